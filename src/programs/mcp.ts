import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import { InvalidConfiguration } from "../../layers/shared/config.js"
import { checkConfig } from "../../layers/presets.js"
import { serveStdio } from "../mcp/stdio.js"
import { ServicesLive } from "./services.js"

/**
 * stdout is the MCP protocol: anything a library prints there would corrupt it, so plain console output goes to
 * stderr too (the logger already writes there in this mode).
 */
const keepStdoutForProtocol = Effect.sync(() => {
  console.log = console.error
  console.info = console.error
  console.debug = console.error
})

/**
 * `revenueflow mcp` (`npm run cli -- mcp`): the MCP server on stdio over the services the environment selects
 * (embedded by default; DATABASE_URL, REDIS_URL, CRM_PROVIDER... for production), configuration checked first as
 * the programs do. Runs until the client closes stdin.
 */
export const mcpStdioProgram: Effect.Effect<void, unknown> = keepStdoutForProtocol.pipe(
  Effect.zipRight(checkConfig as Effect.Effect<unknown, unknown>),
  Effect.zipRight(serveStdio.pipe(Effect.provide(ServicesLive))),
  Effect.provide(SecretsConfig.layer),
  Effect.catchIf(
    (error): error is InvalidConfiguration => error instanceof InvalidConfiguration,
    (error) => Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))
  )
)
