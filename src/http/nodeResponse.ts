import type { ServerResponse } from "node:http"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"

// A module of its own, so /mcp's gate (src/mcp/endpoint.ts, part of the library) answers without loading the server.

/** Writes a handler's response on Node: the handlers answer with JSON or text bodies (or none), built in memory. */
export const writeResponse = (res: ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
  if (res.headersSent || res.destroyed) return
  const body = response.body
  if (body._tag === "Raw" && typeof body.body === "string") {
    // text (a lead's view; content type and length already in the headers): Node writes head and body at once
    res.writeHead(response.status, response.headers)
    res.end(body.body)
    return
  }
  const headers: Record<string, string> = { ...response.headers }
  if (body._tag === "Uint8Array") {
    headers["content-type"] = body.contentType
    headers["content-length"] = String(body.body.byteLength)
    res.writeHead(response.status, headers)
    res.end(body.body)
    return
  }
  res.writeHead(body._tag === "Empty" ? response.status : 500, headers)
  res.end()
}
