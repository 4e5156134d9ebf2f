export declare const mallocTrimSource: string
export declare const buildMallocTrim: (
  outFile: string
) => Promise<{ readonly built: true; readonly file: string } | { readonly built: false; readonly reason: string }>
