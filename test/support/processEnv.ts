import * as Effect from "effect/Effect"

/** Puts back what `setProcessEnv` changed: each name as it was, an unset one deleted. */
const restore = (before: Record<string, string | undefined>) => {
  for (const [name, value] of Object.entries(before)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}

/** Sets `vars` in process.env; returns what they were. */
const setProcessEnv = (vars: Record<string, string>): Record<string, string | undefined> => {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
  Object.assign(process.env, vars)
  return before
}

/**
 * `vars` set in process.env for the scope, and put back as they were when it closes (unset ones deleted), so that a
 * test's endpoint or fake credentials never leak into the later tests of its worker.
 */
export const scopedProcessEnv = (vars: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => setProcessEnv(vars)),
    (before) => Effect.sync(() => restore(before))
  )

/** `vars` set in process.env while `body` runs, then put back as they were. */
export const withProcessEnv = async <A>(vars: Record<string, string>, body: () => Promise<A>): Promise<A> => {
  const before = setProcessEnv(vars)
  try {
    return await body()
  } finally {
    restore(before)
  }
}
