/** Where to put parentheses around the function at [start, end) of `text`, or undefined when it cannot be wrapped. */
export declare const wrapping: (text: string, start: number, end: number) => { open: number; close: number } | undefined
/** Start the program in `outdir` once and wrap each function it compiled lazily in parentheses. */
export declare const compileStartEagerly: (outdir: string) => { wrapped: number; left: number }
