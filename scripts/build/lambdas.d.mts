export declare const lambdas: ReadonlyArray<{
  readonly name: string
  readonly entry: string
  readonly assets?: boolean
}>
