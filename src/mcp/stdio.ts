import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { ErrorCode, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { AppConfig } from "../../services/AppConfig.js"
import { answering } from "./answers.js"
import type { McpServices } from "./calls.js"
import { makeInFlight } from "./inFlight.js"
import { makeServer } from "./server.js"
import { redactText } from "../domain/redact.js"

/**
 * The answer to a stdin line that is no JSON-RPC message, as JSON-RPC 2.0 gives it (id null: none could be read):
 * not JSON is -32700 Parse error; JSON that is no single message (a batch: MCP 2025-11-25 has none) is -32600
 * Invalid Request. Other transport errors get no answer (there is no request to answer).
 */
const answerTo = (error: Error): JSONRPCMessage | undefined => {
  const reply = (code: number, message: string) =>
    ({ jsonrpc: "2.0", id: null, error: { code, message } }) as unknown as JSONRPCMessage
  if (error instanceof SyntaxError) return reply(ErrorCode.ParseError, "Parse error: the line is not JSON")
  // Fragile on purpose, checked against @modelcontextprotocol/sdk 1.32.2 (with zod 4.6.7): its ReadBuffer throws
  // zod's error unwrapped (deserializeMessage: JSONRPCMessageSchema.parse, from 'zod/v4'), and the SDK takes zod
  // ^3.25 || ^4 as a peer, so an instanceof against the copy this module could import is no test. It fails safe:
  // should an SDK wrap or rename the error, the line is only logged, not answered (test/mcp/stdioLines.test.ts then
  // fails, as it expects the -32600 answer).
  if (error.name === "ZodError") {
    return reply(
      ErrorCode.InvalidRequest,
      "Invalid Request: each line must be one JSON-RPC message (a JSON object); batches are not supported"
    )
  }
  return undefined
}

/**
 * Serve MCP over this process's stdin / stdout until the client closes stdin (or the process is interrupted).
 * stdout carries the protocol only: the caller must send logs to stderr. Calls still running when the client
 * leaves or the process is told to stop finish (their CRM writes and audit rows included), and their answers are
 * written (within SHUTDOWN_TIMEOUT_MS), before the services are released.
 */
export const serveStdio: Effect.Effect<void, never, McpServices> = Effect.scoped(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const runtime = yield* Effect.runtime<McpServices>()
    const inFlight = makeInFlight(runtime)
    const server = makeServer(inFlight, { cancellable: true })
    const stdio = answering(new StdioServerTransport(), (request) =>
      Runtime.runFork(runtime)(
        Effect.logDebug("MCP request received").pipe(Effect.annotateLogs({ method: request.method, id: request.id }))
      )
    )
    // what went wrong by its kind only: a parse error's message quotes the start of the client's line, which may
    // hold a lead's name (the logger masks emails and phones, not names)
    const log = (message: string, error: Error) =>
      Runtime.runFork(runtime)(
        Effect.logWarning(message).pipe(
          Effect.annotateLogs({
            error: error instanceof SyntaxError ? "the line is not JSON" : redactText(error.message.slice(0, 300))
          })
        )
      )
    server.onerror = (error) => {
      const answer = answerTo(error)
      if (answer === undefined) return log("MCP transport error", error)
      log("MCP client sent a line that is no JSON-RPC message; answered with an error", error)
      stdio.transport.send(answer).catch(() => undefined)
    }
    // A client that went away mid-answer must not crash the process with EPIPE; there is no one left to tell, and
    // no answer still owed can be written (the write would wait for a 'drain' that never comes): none is awaited.
    let stdoutFailed = false
    const clientGone = (error: Error) => {
      stdio.abandon()
      if (stdoutFailed) return
      stdoutFailed = true
      Runtime.runFork(runtime)(
        Effect.logInfo("MCP client stopped reading stdout; answers still owed are dropped").pipe(
          Effect.annotateLogs({ error: error.message.slice(0, 300) })
        )
      )
    }
    process.stdout.on("error", clientGone)
    yield* Effect.acquireRelease(
      Effect.promise(() => server.connect(stdio.transport)),
      () =>
        Effect.gen(function* () {
          yield* Effect.promise(() => inFlight.idle())
          // the calls ended; their answers follow a few ticks later, and server.close() would drop them
          if (!(yield* Effect.promise(() => stdio.answered(config.shutdownTimeoutMs)))) {
            yield* Effect.logWarning("MCP answers still unwritten at SHUTDOWN_TIMEOUT_MS; closing stdio")
          }
          yield* Effect.promise(() => server.close())
          process.stdout.off("error", clientGone)
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
