export declare const shiftMappings: (mappings: string, line: number, column: number, delta: number) => string
export declare const patchNameHelper: (file: string) => Promise<number>
