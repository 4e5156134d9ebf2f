export declare const runtimeEnv: Readonly<Record<string, string>>
export declare const warmUpEnv: Readonly<{ DATABASE_URL: string; REDIS_URL: string }>
