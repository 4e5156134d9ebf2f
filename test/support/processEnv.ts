import * as Effect from "effect/Effect"

/** Sets each of `vars` in process.env, an undefined one deleted (also how a scope puts back what it found). */
const assign = (vars: Record<string, string | undefined>) => {
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}

/** Sets `vars` in process.env (an undefined one unset); returns what they were. */
const setProcessEnv = (vars: Record<string, string | undefined>): Record<string, string | undefined> => {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
  assign(vars)
  return before
}

/**
 * `vars` set in process.env for the scope (an undefined one unset), and put back as they were when it closes, so
 * that a test's endpoint or fake credentials never leak into the later tests of its worker.
 */
export const scopedProcessEnv = (vars: Record<string, string | undefined>) =>
  Effect.acquireRelease(
    Effect.sync(() => setProcessEnv(vars)),
    (before) => Effect.sync(() => assign(before))
  )

/** `vars` set in process.env while `body` runs, then put back as they were. */
export const withProcessEnv = async <A>(
  vars: Record<string, string | undefined>,
  body: () => Promise<A>
): Promise<A> => {
  const before = setProcessEnv(vars)
  try {
    return await body()
  } finally {
    assign(before)
  }
}
