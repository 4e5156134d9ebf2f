import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** One request as a fake server received it. */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** The parts of a SigV4 Authorization header a fake checks: who signed, for which region and service. */
export interface SigV4 {
  readonly accessKeyId: string
  readonly region: string
  readonly service: string
  readonly signedHeaders: ReadonlyArray<string>
}

/** Parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=..., Signature=...". */
export const sigV4Of = (authorization: string | undefined): SigV4 | undefined => {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=[0-9a-f]{64}$/.exec(
      authorization ?? ""
    )
  if (match === null) return undefined
  return { accessKeyId: match[1]!, region: match[2]!, service: match[3]!, signedHeaders: match[4]!.split(";") }
}

type Handler = (request: RecordedRequest, response: Http.ServerResponse) => void | Promise<void>

/** A plain HTTP/1.1 server on a free port for the scope; every request is recorded before the handler runs. */
export const serveFake = (
  handler: Handler
): Effect.Effect<{ readonly url: string; readonly requests: Array<RecordedRequest> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; url: string; requests: Array<RecordedRequest> }>((resume) => {
      const requests: Array<RecordedRequest> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const recorded = {
            method: req.method ?? "",
            path: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          requests.push(recorded)
          Promise.resolve(handler(recorded, res)).catch(() => res.destroy())
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, requests }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A scripted Bedrock reply. */
export type BedrockReply =
  | { readonly kind: "tool"; readonly input: unknown }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "throttle" }
  | { readonly kind: "error"; readonly status: number }
  | { readonly kind: "hang"; readonly ms: number }

const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const awsError = (res: Http.ServerResponse, status: number, type: string, message: string) =>
  json(res, status, { message }, { "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` })

const converseReply = (content: ReadonlyArray<unknown>, stopReason: string) => ({
  output: { message: { role: "assistant", content } },
  stopReason,
  usage: { inputTokens: 321, outputTokens: 54, totalTokens: 375 },
  metrics: { latencyMs: 12 }
})

/**
 * A Bedrock Runtime Converse endpoint (POST /model/<modelId>/converse). Answers each call with the next scripted
 * reply, then with `fallback`; refuses requests that are not SigV4-signed for service "bedrock".
 */
export const makeFakeBedrock = (fallback: BedrockReply) =>
  Effect.gen(function* () {
    const script: Array<BedrockReply> = []
    let toolUseSeq = 0
    const server = yield* serveFake(async (request, res) => {
      const sig = sigV4Of(request.headers.authorization)
      if (sig === undefined || sig.service !== "bedrock") {
        return awsError(
          res,
          403,
          "UnrecognizedClientException",
          "The security token included in the request is invalid."
        )
      }
      if (request.method !== "POST" || !/^\/model\/[^/]+\/converse$/.test(request.path)) {
        return awsError(res, 404, "UnknownOperationException", "Unknown operation")
      }
      const reply = script.shift() ?? fallback
      switch (reply.kind) {
        case "tool":
          toolUseSeq += 1
          return json(
            res,
            200,
            converseReply(
              [{ toolUse: { toolUseId: `tooluse_${toolUseSeq}`, name: "record_lead_analysis", input: reply.input } }],
              "tool_use"
            )
          )
        case "text":
          return json(res, 200, converseReply([{ text: reply.text }], "end_turn"))
        case "throttle":
          return awsError(res, 429, "ThrottlingException", "Too many requests, please wait before trying again.")
        case "error":
          return awsError(res, reply.status, "InternalServerException", "The server encountered an error.")
        case "hang":
          await new Promise((resolve) => setTimeout(resolve, reply.ms))
          return json(res, 200, converseReply([{ text: "late" }], "end_turn"))
      }
    })
    return {
      ...server,
      /** Queue replies for the next calls, in order. */
      script: (...replies: ReadonlyArray<BedrockReply>) => script.push(...replies),
      /** Decoded JSON bodies of the converse calls received so far. */
      bodies: () => server.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>)
    }
  })
