import type { Metafile } from "esbuild"

export declare const packageOf: (path: string) => { readonly name: string; readonly root: string } | undefined
export declare const duplicatePackages: (metafile: Metafile) => Map<string, Array<string>>
export declare const bytesByPackage: (metafile: Metafile) => Array<[string, number]>
export declare const summarise: (metafile: Metafile, entryPoint: string) => string
