export declare const runtimeEnv: Readonly<Record<string, string>>
