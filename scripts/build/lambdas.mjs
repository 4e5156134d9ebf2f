// The Lambda handler bundles (npm run build:bundles): dist/lambda/<name>/index.mjs, each exporting `handler`
// (the function's handler setting: "index.handler"), with its lazy chunks beside it and no node_modules needed.
// The ingest carries the console's and Swagger UI's files too (/docs, /console).
//
// `warmUpEvent`: the event the build invokes each handler with once, to learn which functions a cold start calls
// (scripts/build/eager.mjs): a lead posted to the ingest, that lead's message to the consumer, the sweep's schedule.

const lead = { email: "warm.up@example.com", campaignId: "warm-up", firstName: "Warm", company: "Example" }

const postLead = {
  version: "2.0",
  routeKey: "$default",
  rawPath: "/leads",
  rawQueryString: "",
  headers: { "content-type": "application/json", host: "warm-up.example.com", "x-forwarded-proto": "https" },
  requestContext: {
    domainName: "warm-up.example.com",
    http: { method: "POST", path: "/leads", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "warm-up" },
    requestId: "warm-up",
    routeKey: "$default",
    stage: "$default",
    timeEpoch: 0
  },
  body: JSON.stringify(lead),
  isBase64Encoded: false
}

const leadMessage = {
  Records: [
    {
      messageId: "warm-up",
      receiptHandle: "warm-up",
      body: JSON.stringify({ leadId: "00000000-0000-4000-8000-000000000000" }),
      attributes: { ApproximateReceiveCount: "1" },
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:warm-up",
      awsRegion: "us-east-1"
    }
  ]
}

const schedule = { version: "0", id: "warm-up", "detail-type": "Scheduled Event", source: "aws.events", detail: {} }

export const lambdas = [
  { name: "lambda/ingest", entry: "src/lambda/ingest.ts", assets: true, warmUpEvent: postLead },
  { name: "lambda/consumer", entry: "src/lambda/consumer.ts", warmUpEvent: leadMessage },
  { name: "lambda/sweep", entry: "src/lambda/sweep.ts", warmUpEvent: schedule }
]
