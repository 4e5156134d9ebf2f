import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import type { HttpApiEvent, LambdaContext, ScheduledEvent, SqsEvent, SqsEventRecord } from "../../src/lambda/events.js"

/** AWS's documented sample events, shared with the build's warm-up (scripts/build/lambdas.mjs). */
const samples = join(import.meta.dirname, "../../scripts/build/lambda-events")
const sample = <A>(name: string): A => JSON.parse(readFileSync(join(samples, name), "utf8")) as A

export interface HttpRequest {
  readonly method: string
  /** Path and query string. */
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: string | Buffer
  /** Send the body base64-encoded (isBase64Encoded), as API Gateway does for binary media. */
  readonly base64?: boolean
  /** A named stage of the HTTP API: its name prefixes rawPath, as API Gateway sends it (the samples' is `$default`). */
  readonly stage?: string
}

/**
 * AWS's documented sample (API Gateway HTTP API v2, or a function URL) with this request's method, path, headers and
 * body: everything else as the sample has it.
 */
export const httpEvent = (kind: "http-api-v2" | "function-url", request: HttpRequest): HttpApiEvent => {
  const event = sample<HttpApiEvent & Record<string, unknown>>(`${kind}.json`)
  const [path = "/", rawQueryString = ""] = request.path.split("?", 2)
  const rawPath = request.stage === undefined ? path : `/${request.stage}${path}`
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
      ...(request.stage === undefined ? {} : { stage: request.stage }),
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

/**
 * What Lambda's SQS poller does, once: receive up to 10 messages from SQS_QUEUE_URL, invoke the consumer with them
 * as an SQS event, and delete every message the answer did not list in batchItemFailures.
 */
export const pollSqsOnce = async (
  handler: (
    event: SqsEvent,
    context?: LambdaContext
  ) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>,
  context: LambdaContext = { awsRequestId: "test" }
) => {
  const client = new SQSClient({})
  try {
    const out = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: process.env.SQS_QUEUE_URL,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"]
      })
    )
    const messages = (out.Messages ?? []).map((m) => ({
      messageId: m.MessageId ?? "",
      receiptHandle: m.ReceiptHandle ?? "",
      body: m.Body ?? "",
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1)
    }))
    const event = sqsEvent(messages)
    if (messages.length === 0) return { event, answer: { batchItemFailures: [] }, failures: [] as Array<string> }
    const answer = await handler(event, context)
    const failures = answer.batchItemFailures.map((f) => f.itemIdentifier)
    for (const m of messages.filter((m) => !failures.includes(m.messageId))) {
      await client.send(
        new DeleteMessageCommand({ QueueUrl: process.env.SQS_QUEUE_URL, ReceiptHandle: m.receiptHandle })
      )
    }
    return { event, answer, failures }
  } finally {
    client.destroy()
  }
}

/**
 * The same request as a REST API (v1) Lambda proxy integration would send it (AWS's documented input format): the
 * event of a function wired to a REST API instead of an HTTP API.
 */
export const restApiV1Event = (request: HttpRequest) => {
  const [path = "/"] = request.path.split("?", 1)
  return {
    resource: "/{proxy+}",
    path,
    httpMethod: request.method,
    headers: { host: "abcdef1234.execute-api.eu-west-1.amazonaws.com", ...request.headers },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: path.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: "abcdef1234",
      domainName: "abcdef1234.execute-api.eu-west-1.amazonaws.com",
      httpMethod: request.method,
      path: `/prod${path}`,
      protocol: "HTTP/1.1",
      requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      resourcePath: "/{proxy+}",
      stage: "prod"
    },
    body: request.body === undefined ? null : String(request.body),
    isBase64Encoded: false
  }
}

/** The same request as an Application Load Balancer sends it to a Lambda target (AWS's documented event). */
export const albEvent = (request: HttpRequest) => {
  const [path = "/"] = request.path.split("?", 1)
  return {
    requestContext: {
      elb: { targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/rf/6d0ecf831eec9f09" }
    },
    httpMethod: request.method,
    path,
    queryStringParameters: {},
    headers: { host: "rf-123.eu-west-1.elb.amazonaws.com", ...request.headers },
    body: request.body === undefined ? "" : String(request.body),
    isBase64Encoded: false
  }
}
