import type { HttpApiEvent, SqsEventRecord } from "./events.js"

// Lambda hands a handler whatever its trigger sends: a function wired to another source (a REST API, an ALB, a queue
// on the ingest, a schedule on the consumer) is told apart here before anything reads the event, and named in the
// logs by its shape only — never by its contents, which may hold credentials or personal data.

type Fields = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The record sources AWS documents, by the `eventSource` their records carry (SNS's is `EventSource`). */
const recordSources: Readonly<Record<string, string>> = {
  "aws:sqs": "an SQS event",
  "aws:sns": "an SNS event",
  "aws:s3": "an S3 event",
  "aws:dynamodb": "a DynamoDB stream event",
  "aws:kinesis": "a Kinesis event",
  "aws:ses": "an SES event",
  "aws:codecommit": "a CodeCommit event"
}

const recordSource = (record: unknown) => {
  if (!isObject(record)) return "an event whose Records are not objects"
  const source = record.eventSource ?? record.EventSource
  return (
    (typeof source === "string" ? recordSources[source] : undefined) ?? "an event with Records of an unknown source"
  )
}

/**
 * A field name a log may show: an identifier as AWS and programs write them ("httpMethod", "detail-type", "Records"),
 * up to 40 characters, with no dot and at most four digits in a row. Whoever sends the event chooses its field names:
 * one like "jane@acme.com", "Tel 612 345 678", "Jane Doe" or "jane.doe" may be personal data, and is counted, not
 * shown.
 */
const SHOWABLE_FIELD = /^(?!.*\d{5})[A-Za-z_$][\w$-]{0,39}$/

/** An object's field names (not their values), at most eight, those that may hold personal data counted only. */
const fieldNames = (event: Fields) => {
  const keys = Object.keys(event)
  const first = keys.slice(0, 8)
  const shown = first.filter((key) => key.length <= 40 && SHOWABLE_FIELD.test(key))
  const hidden = first.length - shown.length
  const named = [
    ...shown,
    ...(hidden === 0 ? [] : [`${hidden} field name${hidden === 1 ? "" : "s"} not shown (it may hold personal data)`])
  ]
  return `${named.join(", ")}${keys.length > 8 ? `, … (${keys.length} fields)` : ""}`
}

/**
 * What kind of event `event` is, by its shape (e.g. "a REST API v1 event (httpMethod, no requestContext.http)"), for
 * a log line: names of sources and fields, never a value.
 */
export const describeEvent = (event: unknown): string => {
  if (event === undefined) return "no event (undefined)"
  if (event === null) return "null"
  if (Array.isArray(event)) return "an array"
  if (!isObject(event)) return `a ${typeof event}`
  const context = event.requestContext
  if (isObject(context) && isObject(context.http)) return "an HTTP API (payload 2.0) / function URL event"
  if (isObject(context) && isObject(context.elb)) return "an ALB event (httpMethod, requestContext.elb)"
  if (typeof event.httpMethod === "string") return "a REST API v1 event (httpMethod, no requestContext.http)"
  if (Array.isArray(event.Records)) {
    return event.Records.length === 0 ? "an event with an empty Records list" : recordSource(event.Records[0])
  }
  if (typeof event["detail-type"] === "string") {
    return event["detail-type"] === "Scheduled Event" && event.source === "aws.events"
      ? "an EventBridge scheduled event"
      : "an EventBridge event that is not a Scheduled Event"
  }
  if (typeof event.RequestType === "string" && typeof event.ResponseURL === "string") {
    return "a CloudFormation custom resource event"
  }
  const fields = Object.keys(event).length
  return fields === 0 ? "an empty object ({})" : `an object with the fields ${fieldNames(event)}`
}

const HTTP_API = "an HTTP API (payload 2.0) / function URL event"

/** Header values as API Gateway sends them: strings (a null or absent value is skipped). */
const isHeaderMap = (value: unknown) =>
  isObject(value) && Object.values(value).every((v) => v === undefined || v === null || typeof v === "string")

/**
 * Why `event` is not an API Gateway HTTP API (payload format 2.0) or Lambda function URL event, by its shape;
 * undefined when it is one (the fields `toRequest` reads have the types AWS documents).
 */
export const notHttpApiEvent = (event: unknown): string | undefined => {
  if (!isObject(event) || !isObject(event.requestContext) || !isObject(event.requestContext.http)) {
    return describeEvent(event)
  }
  const context = event.requestContext
  if (typeof (context.http as Fields).method !== "string") return `${HTTP_API} without requestContext.http.method`
  if (typeof event.rawPath !== "string") return `${HTTP_API} without rawPath`
  if (event.rawQueryString !== undefined && typeof event.rawQueryString !== "string") {
    return `${HTTP_API} whose rawQueryString is not a string`
  }
  if (event.headers !== undefined && event.headers !== null && !isHeaderMap(event.headers)) {
    return `${HTTP_API} whose headers are not all strings`
  }
  const cookies = event.cookies
  if (cookies !== undefined && cookies !== null) {
    if (!Array.isArray(cookies) || !cookies.every((c) => typeof c === "string")) {
      return `${HTTP_API} whose cookies are not strings`
    }
  }
  if (event.body !== undefined && event.body !== null && typeof event.body !== "string") {
    return `${HTTP_API} whose body is not a string`
  }
  if (event.isBase64Encoded !== undefined && typeof event.isBase64Encoded !== "boolean") {
    return `${HTTP_API} whose isBase64Encoded is not a boolean`
  }
  const hasHost = isObject(event.headers) && typeof event.headers.host === "string"
  if (!hasHost && typeof context.domainName !== "string") {
    return `${HTTP_API} with neither a host header nor requestContext.domainName`
  }
  return undefined
}

/** Why `event` is not an SQS event as an event source mapping delivers it; undefined when it is one. */
export const notSqsEvent = (event: unknown): string | undefined => {
  if (!isObject(event) || !Array.isArray(event.Records)) return describeEvent(event)
  for (const [i, record] of event.Records.entries()) {
    if (!isObject(record) || record.eventSource !== "aws:sqs") return recordSource(record)
    for (const field of ["messageId", "receiptHandle", "body"] as const) {
      if (typeof record[field] !== "string") return `an SQS event whose record ${i} has no ${field}`
    }
  }
  return undefined
}

/**
 * A record's ApproximateReceiveCount (1 on the first delivery); undefined when the record has no attributes or the
 * count is not a positive whole number.
 */
export const receiveCountOf = (record: SqsEventRecord): number | undefined => {
  const attributes: unknown = record.attributes
  const count = isObject(attributes) ? attributes.ApproximateReceiveCount : undefined
  return typeof count === "string" && /^[1-9][0-9]{0,8}$/.test(count) ? Number(count) : undefined
}

/** What the sweep runs for: EventBridge's scheduled event, or `{}` (a manual `aws lambda invoke`; the migrations). */
export const sweepTrigger = (event: unknown): "schedule" | "manual" | undefined => {
  if (!isObject(event)) return undefined
  if (event["detail-type"] === "Scheduled Event" && event.source === "aws.events") return "schedule"
  return Object.keys(event).length === 0 ? "manual" : undefined
}

/**
 * The path the API routes: `rawPath` without the stage name an HTTP API's named stage puts before it ("/prod/leads"
 * on stage "prod" routes "/leads"); the `$default` stage and function URLs put none.
 */
export const routedPath = (event: HttpApiEvent): string => {
  const prefix = stagePrefix(event)
  return prefix === "" ? event.rawPath : event.rawPath.slice(prefix.length) || "/"
}

/** "/<stage>" when `rawPath` starts with a named stage's name, else "". */
export const stagePrefix = (event: HttpApiEvent): string => {
  const stage = event.requestContext.stage
  if (stage === undefined || stage === "" || stage === "$default") return ""
  const prefix = `/${stage}`
  return event.rawPath === prefix || event.rawPath.startsWith(`${prefix}/`) ? prefix : ""
}
