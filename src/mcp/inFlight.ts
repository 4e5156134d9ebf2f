import type * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type { McpServices } from "./calls.js"

/** Tracks the calls running, so a transport that closes can wait for them before the services are released. */
export interface InFlight {
  readonly run: <A>(effect: Effect.Effect<A, never, McpServices>, signal?: AbortSignal) => Promise<A>
  /** Resolves once no call is running. */
  readonly idle: () => Promise<void>
}

/** Runs effects on `runtime`, counting them. */
export const makeInFlight = (runtime: Runtime.Runtime<McpServices>): InFlight => {
  let running = 0
  const waiters: Array<() => void> = []
  const runPromise = Runtime.runPromise(runtime)
  return {
    run: (effect, signal) => {
      running++
      return runPromise(effect, signal === undefined ? undefined : { signal }).finally(() => {
        running--
        if (running === 0) for (const wake of waiters.splice(0)) wake()
      })
    },
    idle: () => (running === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(() => resolve())))
  }
}
