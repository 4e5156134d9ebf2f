// What the image's runtime stage sets for every program besides the programs' own configuration (Dockerfile `ENV`),
// so the benchmarks run the bundles as the image runs them. test/ops/compose.test.ts holds the Dockerfile to it.
//
// MALLOC_ARENA_MAX=1: glibc gives each thread that allocates (Node's main thread, V8's compiler and GC threads, the
// libuv pool) its own malloc arena, up to 8 per core, and an arena keeps what was freed in it. One arena: settled idle
// RSS ~3.5 MiB lower and ~11 MiB lower after a burst, with CPU per request the same at 50 and 200 connections
// (docs/performance-log.md).
export const runtimeEnv = Object.freeze({ MALLOC_ARENA_MAX: "1" })

/**
 * The warm-up start's connections (Dockerfile, warming the compile cache; scripts/bench/coldstart.mjs, doing the same;
 * scripts/build/eager.mjs, recording what a start compiles): a Postgres and a Redis that refuse at once (port 9), so
 * a start runs up to connecting, then exits. test/ops/compose.test.ts holds the Dockerfile to it.
 */
export const warmUpEnv = Object.freeze({
  DATABASE_URL: "postgres://warm@127.0.0.1:9/warm",
  REDIS_URL: "redis://127.0.0.1:9"
})
