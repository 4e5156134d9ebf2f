/**
 * The headers every answer of the API carries (see serving.ts `unsniffedUncached`): its content type as declared (a
 * problem quoting a client's input is never sniffed as HTML), and kept by no cache (a lead's view holds personal data;
 * a status read is stale at once). Built into the answers the ingest's server makes itself — the lead's view, every
 * problem, the ops answers, /mcp's — so the hot path copies no response to add them. A module of its own, with no
 * import: /mcp's gate (src/mcp/endpoint.ts) uses it without loading the server.
 */
export const unsniffedUncachedHeaders: Readonly<Record<"cache-control" | "x-content-type-options", string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff"
}
