import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import { InvalidConfiguration } from "../../layers/aws/validate.js"
import * as Logging from "../../layers/observability/Logger.js"
import { checkConfig } from "../../layers/presets.js"
import type { SecretsRefresh } from "../../services/SecretsRefresh.js"

/**
 * Runs a program: configuration (environment, overlaid by Secrets Manager when AWS_SECRETS_IDS is set) is checked
 * as a whole first; a bad configuration prints one message naming every key and exits 1. SIGTERM / SIGINT
 * interrupt the program, which releases its layers in reverse order (the HTTP server stops accepting and finishes
 * in-flight requests, the consumer drains).
 */
export const runProgram = (program: Layer.Layer<never, unknown, SecretsRefresh>, defaultLogFormat: "json" | "pretty") =>
  (checkConfig as Effect.Effect<unknown, unknown>).pipe(
    Effect.zipRight(Layer.launch(program)),
    Effect.provide(SecretsConfig.layer),
    Effect.catchIf(
      (error): error is InvalidConfiguration => error instanceof InvalidConfiguration,
      (error) => Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))
    ),
    Effect.provide(Logging.layerConfig(defaultLogFormat)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )
