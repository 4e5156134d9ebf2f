/** Convert one program's ESM output in `outdir` to CommonJS run by the code-cache loader; returns its build id. */
export declare const toCommonJs: (outdir: string) => Promise<string>
