export declare const lambdas: ReadonlyArray<{
  readonly name: string
  readonly entry: string
  readonly assets?: boolean
  /** The event the build calls the handler with once, to learn what a cold start compiles (eager.mjs). */
  readonly warmUpEvent: unknown
}>
