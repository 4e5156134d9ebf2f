import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as Effect from "effect/Effect"
import type { McpServices } from "./calls.js"
import { makeInFlight } from "./inFlight.js"
import { makeServer } from "./server.js"

/**
 * Serve MCP over this process's stdin / stdout until the client closes stdin (or the process is interrupted).
 * stdout carries the protocol only: the caller must send logs to stderr. Calls still running when the client
 * leaves finish (their CRM writes and audit rows included) before the services are released.
 */
export const serveStdio: Effect.Effect<void, never, McpServices> = Effect.scoped(
  Effect.gen(function* () {
    const inFlight = makeInFlight(yield* Effect.runtime<McpServices>())
    const server = makeServer(inFlight, { cancellable: true })
    // a client that went away mid-answer must not crash the process with EPIPE; there is no one left to tell
    const ignore = () => undefined
    process.stdout.on("error", ignore)
    yield* Effect.acquireRelease(
      Effect.promise(() => server.connect(new StdioServerTransport())),
      () =>
        Effect.promise(async () => {
          await inFlight.idle()
          await server.close()
          process.stdout.off("error", ignore)
        })
    )
    yield* Effect.logInfo("MCP server listening on stdio")
    yield* Effect.async<void>((resume) => {
      const done = () => resume(Effect.void)
      process.stdin.once("end", done)
      process.stdin.once("close", done)
      server.onclose = done
      return Effect.sync(() => {
        process.stdin.off("end", done)
        process.stdin.off("close", done)
      })
    })
    yield* Effect.logInfo("MCP client closed stdin; finishing calls in flight")
  })
)
