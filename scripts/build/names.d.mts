/** One source-map segment's numbers (base64 VLQ), and back. */
export declare const decodeSegment: (text: string) => Array<number>
export declare const encodeSegment: (values: ReadonlyArray<number>) => string
export declare const shiftMappings: (mappings: string, line: number, column: number, delta: number) => string
export declare const patchNameHelper: (file: string) => Promise<number>
