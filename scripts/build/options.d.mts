import type { BuildOptions, Plugin } from "esbuild"

export interface Program {
  readonly name: string
  readonly entry: string
  readonly optional?: boolean
  readonly shebang?: boolean
  /** Its memory release loads native/mallocTrim.node, built beside the bundle. */
  readonly native?: boolean
  /** The functions a start calls are compiled with their module (scripts/build/eager.mjs). */
  readonly eager?: boolean
}
export declare const programs: ReadonlyArray<Program>
export declare const external: Array<string>
export declare const banner: string
export declare const requireHttp: Plugin
export declare const effectAsyncResume: Plugin
export declare const bundleOptions: (options: {
  readonly root: string
  readonly program: Program
  readonly outdir: string
}) => BuildOptions & { metafile: true }
