import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { InvalidConfiguration } from "../shared/config.js"
import { importSelected } from "../shared/optionalPackage.js"

/** Where spans go (OTLP/HTTP) and the service they are from. Here, not in Otlp.ts: its types need the OTel SDK. */
export interface OtlpOptions {
  /** OTLP/HTTP base URL (e.g. http://jaeger:4318); spans go to `${endpoint}/v1/traces`. */
  readonly endpoint: string
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
}

/** The span exporters in use, each as its flush (an exporter registers while its layer is open). */
const flushes = new Set<() => Promise<void>>()

/** Adds an exporter's flush to what `flushSpans` runs; returns its removal. */
export const registerFlush = (flush: () => Promise<void>): (() => void) => {
  flushes.add(flush)
  return () => {
    flushes.delete(flush)
  }
}

/**
 * Exports the spans every exporter in use holds, waiting at most `timeoutMs` (a collector that does not answer never
 * holds the caller longer); nothing to do, and no wait, without one. A Lambda handler calls it before it returns: the
 * container is frozen after that, the batch's timer with it, and a container reaped later loses what it held.
 */
export const flushSpans = async (timeoutMs = 2000): Promise<void> => {
  if (flushes.size === 0) return
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    Promise.allSettled([...flushes].map((flush) => flush())),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs)
    })
  ])
  clearTimeout(timer)
}

/** OTEL_EXPORTER_OTLP_ENDPOINT (unset: tracing off) and OTEL_SERVICE_NAME (default `defaultServiceName`). */
export const config = (defaultServiceName: string): Config.Config<Option.Option<OtlpOptions>> =>
  Config.all({
    endpoint: Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
    serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault(defaultServiceName))
  }).pipe(
    Config.map(({ endpoint, serviceName }) =>
      Option.map(
        Option.filter(endpoint, (url) => url.trim() !== ""),
        (url) => ({ endpoint: url.trim(), serviceName })
      )
    )
  )

/**
 * OTLP tracing configured from the environment; a no-op layer (Effect's built-in, unexported spans) when
 * OTEL_EXPORTER_OTLP_ENDPOINT is unset. Provide it to a whole program so every fiber it forks uses the tracer.
 */
export const layerConfig = (
  defaultServiceName: string
): Layer.Layer<never, ConfigError.ConfigError | InvalidConfiguration> =>
  Layer.unwrapEffect(
    Effect.map(
      config(defaultServiceName),
      Option.match({
        onNone: () => Layer.empty,
        onSome: (options) =>
          Layer.unwrapEffect(
            importSelected("OTEL_EXPORTER_OTLP_ENDPOINT", () =>
              import("./Otlp.js").then((otlp) => Layer.discard(otlp.layerOtlp(options)))
            )
          )
      })
    )
  )
