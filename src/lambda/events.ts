/**
 * The shapes of the events the handlers take and the results they give, as AWS documents them (the fields read here;
 * @types/aws-lambda has the same names). Kept local so the library needs no types package for them.
 */

/** API Gateway HTTP API (payload format 2.0) and Lambda Function URL requests: the same shape. */
export interface HttpApiEvent {
  readonly version: "2.0"
  readonly routeKey?: string
  readonly rawPath: string
  readonly rawQueryString: string
  readonly cookies?: ReadonlyArray<string>
  readonly headers?: Readonly<Record<string, string | undefined>>
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>
  readonly requestContext: {
    readonly accountId?: string
    readonly apiId?: string
    readonly domainName: string
    readonly domainPrefix?: string
    readonly http: {
      readonly method: string
      readonly path: string
      readonly protocol?: string
      readonly sourceIp?: string
      readonly userAgent?: string
    }
    readonly requestId?: string
    readonly stage?: string
    readonly time?: string
    readonly timeEpoch?: number
  }
  readonly body?: string
  readonly isBase64Encoded: boolean
}

/** The proxy result of payload format 2.0 (and Function URLs). */
export interface HttpApiResult {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly cookies?: Array<string>
  readonly body: string
  readonly isBase64Encoded: boolean
}

/** One SQS message as Lambda delivers it. */
export interface SqsEventRecord {
  readonly messageId: string
  readonly receiptHandle: string
  readonly body: string
  readonly attributes: {
    readonly ApproximateReceiveCount: string
    readonly SentTimestamp?: string
    readonly SenderId?: string
    readonly ApproximateFirstReceiveTimestamp?: string
  }
  readonly messageAttributes?: Readonly<Record<string, unknown>>
  readonly md5OfBody?: string
  readonly eventSource: "aws:sqs"
  readonly eventSourceARN: string
  readonly awsRegion?: string
}

export interface SqsEvent {
  readonly Records: ReadonlyArray<SqsEventRecord>
}

/** The answer of a function whose event source mapping has ReportBatchItemFailures. */
export interface SqsBatchResponse {
  readonly batchItemFailures: Array<{ readonly itemIdentifier: string }>
}

/** An EventBridge (CloudWatch Events) scheduled event. */
export interface ScheduledEvent {
  readonly version?: string
  readonly id: string
  readonly "detail-type": "Scheduled Event" | string
  readonly source: "aws.events" | string
  readonly account?: string
  readonly time: string
  readonly region?: string
  readonly resources?: ReadonlyArray<string>
  readonly detail?: unknown
}

/** The fields of Lambda's context object the handlers use. */
export interface LambdaContext {
  readonly awsRequestId?: string
  readonly functionName?: string
  readonly getRemainingTimeInMillis?: () => number
}
