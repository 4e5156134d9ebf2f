import type { Plugin } from "esbuild"

/** SHA-256 of the memo method this patch was written against (effect 3.22.4's dist/esm/internal/layer.js). */
export declare const memoMethodSha256: string
/** layer.js with the lean memo method, or undefined when its method is not that text. */
export declare const patchLayerMemo: (source: string) => string | undefined
export declare const effectLayerMemo: Plugin
