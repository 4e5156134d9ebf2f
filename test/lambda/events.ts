import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { HttpApiEvent, ScheduledEvent, SqsEvent, SqsEventRecord } from "../../src/lambda/events.js"

const sample = <A>(name: string): A => JSON.parse(readFileSync(join(import.meta.dirname, "events", name), "utf8")) as A

export interface HttpRequest {
  readonly method: string
  /** Path and query string. */
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: string | Buffer
  /** Send the body base64-encoded (isBase64Encoded), as API Gateway does for binary media. */
  readonly base64?: boolean
}

/**
 * AWS's documented sample (API Gateway HTTP API v2, or a function URL) with this request's method, path, headers and
 * body: everything else as the sample has it.
 */
export const httpEvent = (kind: "http-api-v2" | "function-url", request: HttpRequest): HttpApiEvent => {
  const event = sample<HttpApiEvent & Record<string, unknown>>(`${kind}.json`)
  const [rawPath = "/", rawQueryString = ""] = request.path.split("?", 2)
  const body = request.body === undefined ? undefined : Buffer.from(request.body)
  const headers: Record<string, string> = { ...event.headers } as Record<string, string>
  delete headers["content-length"]
  if (body !== undefined) headers["content-length"] = String(body.length)
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value
  const query = Object.fromEntries(new URLSearchParams(rawQueryString))
  const { body: _sampleBody, queryStringParameters: _sampleQuery, ...rest } = event
  return {
    ...rest,
    rawPath,
    rawQueryString,
    headers,
    ...(rawQueryString === "" ? {} : { queryStringParameters: query }),
    requestContext: {
      ...event.requestContext,
      http: { ...event.requestContext.http, method: request.method, path: rawPath }
    },
    ...(body === undefined ? {} : { body: request.base64 ? body.toString("base64") : body.toString("utf8") }),
    isBase64Encoded: request.base64 === true
  }
}

/** AWS's sample SQS event with these messages as its records. */
export const sqsEvent = (
  messages: ReadonlyArray<{ messageId: string; receiptHandle: string; body: string; receiveCount: number }>,
  queueArn = "arn:aws:sqs:eu-west-1:123456789012:leads"
): SqsEvent => {
  const [template] = sample<{ Records: Array<SqsEventRecord> }>("sqs.json").Records
  if (template === undefined) throw new Error("sqs.json has no record")
  return {
    Records: messages.map((m) => ({
      ...template,
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: m.body,
      attributes: { ...template.attributes, ApproximateReceiveCount: String(m.receiveCount) },
      md5OfBody: createHash("md5").update(m.body).digest("hex"),
      eventSourceARN: queueArn,
      awsRegion: "eu-west-1"
    }))
  }
}

/** AWS's sample EventBridge scheduled event. */
export const scheduledEvent = (): ScheduledEvent => sample<ScheduledEvent>("scheduled.json")
