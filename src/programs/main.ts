import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import { CheckedSections, InvalidConfiguration } from "../../layers/shared/config.js"
import * as Logging from "../../layers/observability/Logger.js"
import { StoreUnavailable } from "../../services/LeadStore.js"
import type { AppConfig } from "../../services/AppConfig.js"
import type { SecretsRefresh } from "../../services/SecretsRefresh.js"
import { withDefaults } from "./defaults.js"
import { ListenFailed } from "./listen.js"

/** Failures of start-up whose message is the whole story: printed as one line, no stack. */
const explained = (error: unknown): string | undefined => {
  if (error instanceof InvalidConfiguration || error instanceof ListenFailed) return error.message
  // the settings could not be read at all (AWS_SECRETS_IDS): no region, no route, no permission
  if (error instanceof SecretsConfig.SecretsLoadError) return `Cannot start: ${error.message}`
  // the store's messages name host:port and never the password (see SqlClient.storeUnavailable)
  if (error instanceof StoreUnavailable) return `Cannot start: ${error.message}`
  return undefined
}

/**
 * Runs a program: configuration (environment, overlaid by Secrets Manager when AWS_SECRETS_IDS is set) is checked
 * by `check` (the sections this program uses) as a whole first; a bad configuration prints one message naming
 * every key and exits 1, as does a port in use or a database that cannot be reached. SIGTERM / SIGINT interrupt
 * the program, which releases its layers in reverse order (the HTTP server stops accepting and finishes in-flight
 * requests, the consumer drains). `defaults` are the program's own defaults for settings the environment leaves
 * unset (below the environment and Secrets Manager, above each setting's general default).
 */
export const runProgram = (
  program: Layer.Layer<never, unknown, SecretsRefresh>,
  check: Effect.Effect<AppConfig.Service, InvalidConfiguration>,
  defaultLogFormat: "json" | "pretty",
  defaults: Readonly<Record<string, string>> = {}
) =>
  Effect.suspend(() =>
    // the program's AppConfig and its layers' sections of settings are the ones the check read, not read a second
    // time (CheckedSections, layers/shared/config.ts)
    Effect.zipRight(check, Layer.launch(program)).pipe(
      Effect.provideService(CheckedSections, new Map<Config.Config<unknown>, unknown>())
    )
  ).pipe(
    Effect.provide(SecretsConfig.layer.pipe(Layer.provide(withDefaults(defaults)))),
    Effect.catchIf(
      (error) => explained(error) !== undefined,
      (error) => Console.error(explained(error)).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))
    ),
    Effect.provide(Logging.layerConfig(defaultLogFormat)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )
