import { Buffer, isUtf8 } from "node:buffer"
import type { IncomingMessage, ServerResponse } from "node:http"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { ErrorCode, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AppConfig } from "../../services/AppConfig.js"
import { fromNode, type IntakeRequest, readJson } from "../http/body.js"
import { findDuplicateKey, type JsonTextCounts, MAX_JSON_DEPTH, memberCount, scanJsonText } from "../http/jsonText.js"
import { writeResponse } from "../http/nodeResponse.js"
import { problem } from "../http/problem.js"
import type { NodeHandler } from "./endpoint.js"
import type { InFlight } from "./inFlight.js"
import { makeServer } from "./server.js"

/**
 * Why a body is not the one JSON-RPC message a POST carries, if it is not: MCP 2025-11-25 has no batches (they were
 * removed in 2025-06-18), although the SDK's transport still answers an array; an object must be a JSON-RPC 2.0
 * request, notification or response (the SDK's transport answers one that is not -32700, though it is JSON).
 */
const notOneMessage = (json: unknown): string | undefined => {
  if (Array.isArray(json)) {
    return "Invalid Request: JSON-RPC batches are not supported (MCP 2025-11-25): send one message per POST"
  }
  if (json === null || typeof json !== "object")
    return "Invalid Request: the body must be one JSON-RPC message (an object)"
  if (!JSONRPCMessageSchema.safeParse(json).success) {
    return (
      'Invalid Request: the body is no JSON-RPC 2.0 message ("jsonrpc": "2.0" with a "method" and, for a request, ' +
      'a string or integer "id"; or a response)'
    )
  }
  return undefined
}

/** A JSON-RPC error with id null (no request could be read to name), answered 400 as MCP's Streamable HTTP says. */
const rpcError = (res: ServerResponse, code: number, message: string) => {
  res.writeHead(400, { "content-type": "application/json" })
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }))
}

type Body = { readonly json: unknown } | { readonly code: number; readonly message: string }

/**
 * A body the ingest's JSON rules refused (http/body.ts), read again as JSON-RPC answers it: bytes that are no JSON
 * text are -32700 Parse error; JSON that nests too deep or names a key twice is -32600 Invalid Request. JSON whose
 * text Postgres cannot store (NUL, an unpaired surrogate) or whose numbers are out of range is a message all the same:
 * it goes on, and a tool's arguments holding such values are refused by the guard, naming the field, as on stdio.
 */
const reread = (bytes: Uint8Array): Body => {
  const parseError = (why: string) => ({ code: ErrorCode.ParseError, message: `Parse error: ${why}` })
  if (!isUtf8(bytes)) return parseError("the body is not UTF-8")
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")
  if (text.trim() === "") return parseError("the body is empty")
  if (text.charCodeAt(0) === 0xfeff) return parseError("the body starts with a byte order mark")
  let json: unknown
  try {
    // safe at any depth: V8's JSON.parse does not recurse, and the body is at most MAX_BODY_BYTES
    json = JSON.parse(text)
  } catch {
    return parseError("the body is not JSON")
  }
  const counts: JsonTextCounts = { members: 0 }
  if (scanJsonText(text, MAX_JSON_DEPTH, counts) === "too-deep") {
    return { code: ErrorCode.InvalidRequest, message: `Invalid Request: the body nests deeper than ${MAX_JSON_DEPTH}` }
  }
  const duplicate = memberCount(json) === counts.members ? undefined : findDuplicateKey(text)
  if (duplicate !== undefined) {
    return {
      code: ErrorCode.InvalidRequest,
      message: `Invalid Request: the body names ${JSON.stringify(duplicate.key.slice(0, 64))} twice in one object`
    }
  }
  return { json }
}

/**
 * The body as the ingest reads JSON (415, 413, an unreadable stream: its problem+json, answered as is), the bytes it
 * refused as JSON read again as JSON-RPC answers them (`reread`).
 */
const readMessage = (req: IncomingMessage, maxBytes: number) => {
  const request = fromNode(req)
  let bytes: Uint8Array | undefined
  const keeping: IntakeRequest = {
    ...request,
    body: (max) =>
      Effect.tap(request.body(max), (read) =>
        Effect.sync(() => {
          bytes = read
        })
      )
  }
  return Effect.either(readJson(keeping, maxBytes)).pipe(
    Effect.map(
      Either.match({
        onRight: (body): Either.Either<Body, Parameters<typeof writeResponse>[1]> => Either.right({ json: body.json }),
        onLeft: (refusal) =>
          refusal.reason === "malformed-json" && bytes !== undefined
            ? Either.right(reread(bytes))
            : Either.left(refusal.response)
      })
    )
  )
}

/**
 * MCP Streamable HTTP at /mcp, stateless (every POST carries its own JSON-RPC message and gets its own server and
 * transport, so replicas behind a load balancer need no session affinity), answering JSON rather than SSE, with the
 * ingest's body rules (415, 413 over MAX_BODY_BYTES as problem+json) and JSON-RPC's errors (400 with -32700 for a
 * body that is no JSON text, -32600 for JSON that is no single JSON-RPC message). Its origin, API key
 * and method were checked before this module was loaded (endpoint.ts). A call is not cancelled when its client
 * goes away (MCP: a disconnection is no cancellation; stateless, nothing else could cancel it): it runs to its end,
 * audit row included, and a repeat answers with its result.
 */
export const makeHttpHandler = (config: AppConfig.Service, inFlight: InFlight): NodeHandler => {
  return (req: IncomingMessage, res: ServerResponse) => {
    void Effect.runPromise(readMessage(req, config.maxBodyBytes)).then(async (body) => {
      if (Either.isLeft(body)) return writeResponse(res, body.left)
      if ("code" in body.right) return rpcError(res, body.right.code, body.right.message)
      const notOne = notOneMessage(body.right.json)
      if (notOne !== undefined) return rpcError(res, ErrorCode.InvalidRequest, notOne)
      const server = makeServer(inFlight, { cancellable: false })
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }) // no session id generator: stateless
      res.once("close", () => {
        void transport.close()
        void server.close()
      })
      try {
        await server.connect(transport)
        await transport.handleRequest(req, res, body.right.json)
      } catch (error) {
        Effect.runFork(Effect.logError("MCP request failed").pipe(Effect.annotateLogs({ error: String(error) })))
        writeResponse(res, problem(500, "The MCP request could not be handled"))
      }
    })
  }
}
