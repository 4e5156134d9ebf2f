import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import * as Logging from "../../layers/observability/Logger.js"
import { flushSpans } from "../../layers/observability/Tracing.js"
import { loadConfig } from "../../layers/shared/config.js"
import { withDefaults } from "../programs/defaults.js"
import { logError } from "./log.js"

/**
 * What the Lambda handlers assume unless the function's environment says otherwise: the queue is SQS, the migrations
 * are not run on a cold start (`revenueflow migrate` runs them once, at deploy time), and each container holds two
 * Postgres connections — it serves one invocation at a time, and a frozen container keeps its pool open, so ten per
 * container would spend a small database's connections on a burst of containers.
 */
export const lambdaDefaults: Readonly<Record<string, string>> = {
  QUEUE_BACKEND: "SQS",
  MIGRATE_ON_START: "false",
  DATABASE_POOL_SIZE: "2"
}

/**
 * Refuses to start without DATABASE_URL: the embedded store (PGlite, in DATA_DIR) would live on one container's disk,
 * where no other function (nor the next container) sees its leads — an ingest would answer 202 for a lead the consumer
 * never finds.
 */
const databaseRequired = Layer.effectDiscard(
  loadConfig(
    Config.option(Config.string("DATABASE_URL")).pipe(
      Config.mapOrFail((url) =>
        Option.isSome(url)
          ? Either.right(undefined)
          : Either.left(
              ConfigError.InvalidData(
                ["DATABASE_URL"],
                "is required on Lambda (the embedded store would live on one container's disk, where the other " +
                  "functions never see its leads)"
              )
            )
      )
    )
  )
)

/** JSON logs, then the configuration (Secrets Manager over the environment when AWS_SECRETS_IDS is set). */
const platform = <R, E>(services: Layer.Layer<R, E>) =>
  services.pipe(
    Layer.provide(databaseRequired),
    Layer.provide(SecretsConfig.layer),
    // the environment first, then the Lambda defaults
    Layer.provide(withDefaults(lambdaDefaults)),
    Layer.provide(Logging.layerConfig("json"))
  )

/**
 * How long after a failed build the next is tried: the invocations meanwhile fail at once (the ingest answers 503)
 * rather than each fetch the secrets again and wait out the database's connect timeout during an outage.
 */
const REBUILD_AFTER_MS = 5000

/**
 * The environment of one handler (`name`: ingest, consumer, sweep), built on its first invocation and kept for the
 * container's life (later invocations reuse the pools and clients). A build that fails (a database down at a cold
 * start, a bad setting) is not kept: it is logged, the invocation fails, so do those of the next REBUILD_AFTER_MS
 * without building, and the first after that builds again. Failures are
 * logged here as JSON lines with their cause, and thrown on as an Error that says only what failed: the Lambda
 * runtime prints a thrown error in its own format, so the cause (which may quote a setting) stays in our line.
 */
export const container = <R, E>(name: string, services: () => Layer.Layer<R, E>) => {
  let current: ManagedRuntime.ManagedRuntime<R, unknown> | undefined
  // when the last build failed: the invocations within REBUILD_AFTER_MS of it fail at once, without building again
  let failedAt: number | undefined
  const failed = () =>
    new Error(`The ${name}'s environment failed to start (the cause is in the environment's last log line)`)
  const get = async (): Promise<ManagedRuntime.ManagedRuntime<R, unknown>> => {
    if (current === undefined && failedAt !== undefined && Date.now() - failedAt < REBUILD_AFTER_MS) throw failed()
    current ??= ManagedRuntime.make(platform(services()))
    const runtime = current
    try {
      await runtime.runtime()
      failedAt = undefined
      return runtime
    } catch (error) {
      if (current === runtime) current = undefined
      failedAt = Date.now()
      void runtime.dispose().catch(() => undefined)
      logError(`${name} environment failed to start`, { retryAfterMs: REBUILD_AFTER_MS }, error)
      throw failed()
    }
  }
  return {
    get,
    run: async <A, E2>(effect: Effect.Effect<A, E2, R>): Promise<A> => {
      const runtime = await get()
      try {
        return await runtime.runPromise(effect)
      } catch (error) {
        logError(`${name} invocation failed`, {}, error)
        throw new Error(`The ${name} invocation failed (the cause is in the log line before)`)
      } finally {
        // the container is frozen once this returns: its spans are exported now, not at a thaw that may never come
        await flushSpans()
      }
    },
    /** Releases the environment (tests; Lambda just freezes the container). */
    dispose: async (): Promise<void> => {
      const runtime = current
      current = undefined
      failedAt = undefined
      if (runtime !== undefined) await runtime.dispose()
    }
  }
}
