import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import * as Logging from "../../layers/observability/Logger.js"
import { withDefaults } from "../programs/defaults.js"

/**
 * What the Lambda handlers assume unless the function's environment says otherwise: the queue is SQS, and the
 * migrations are not run on a cold start (`revenueflow migrate` runs them once, at deploy time).
 */
export const lambdaDefaults: Readonly<Record<string, string>> = {
  QUEUE_BACKEND: "SQS",
  MIGRATE_ON_START: "false"
}

/** JSON logs, then the configuration (Secrets Manager over the environment when AWS_SECRETS_IDS is set). */
const platform = <R, E>(services: Layer.Layer<R, E>) =>
  services.pipe(
    Layer.provide(SecretsConfig.layer),
    // the environment first, then the Lambda defaults
    Layer.provide(withDefaults(lambdaDefaults)),
    Layer.provide(Logging.layerConfig("json"))
  )

/**
 * The environment of one handler, built on its first invocation and kept for the container's life (later
 * invocations reuse the pools and clients). A build that fails (a database down at a cold start, a bad setting) is
 * not kept: the invocation fails with it, and the next one builds again.
 */
export const container = <R, E>(services: () => Layer.Layer<R, E>) => {
  let current: ManagedRuntime.ManagedRuntime<R, unknown> | undefined
  const get = async (): Promise<ManagedRuntime.ManagedRuntime<R, unknown>> => {
    current ??= ManagedRuntime.make(platform(services()))
    const runtime = current
    try {
      await runtime.runtime()
      return runtime
    } catch (error) {
      if (current === runtime) current = undefined
      void runtime.dispose().catch(() => undefined)
      throw error
    }
  }
  return {
    get,
    run: async <A, E2>(effect: Effect.Effect<A, E2, R>): Promise<A> => (await get()).runPromise(effect),
    /** Releases the environment (tests; Lambda just freezes the container). */
    dispose: async (): Promise<void> => {
      const runtime = current
      current = undefined
      if (runtime !== undefined) await runtime.dispose()
    }
  }
}
