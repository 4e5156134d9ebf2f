/** Where to put parentheses around the function at [start, end) of `text`, or undefined when it cannot be wrapped. */
export declare const wrapping: (text: string, start: number, end: number) => { open: number; close: number } | undefined
/** How a recorded start runs: node's arguments (in the bundle's directory) and its environment. */
export interface Start {
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}
/** A long-running program's start: `node index.mjs`. */
export declare const programStart: Start
/** A Lambda handler's cold start: index.mjs imported and its handler called once with `event`. */
export declare const lambdaStart: (event: unknown) => Start
/** Start the bundle in `outdir` once as `start` says and wrap each function it compiled lazily in parentheses. */
export declare const compileStartEagerly: (outdir: string, start?: Start) => { wrapped: number; left: number }
