import * as Data from "effect/Data"

/** Redis could not answer (down, unreachable, timed out). The message never carries the URL or password. */
export class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{ readonly message: string }> {}
