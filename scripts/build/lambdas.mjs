// The Lambda handler bundles (npm run build:bundles): dist/lambda/<name>/index.mjs, each exporting `handler`
// (the function's handler setting: "index.handler"), with its lazy chunks beside it and no node_modules needed.
// The ingest carries the console's and Swagger UI's files too (/docs, /console).
//
// `warmUpEvent`: the event the build invokes each handler with once, to learn which functions a cold start calls
// (scripts/build/eager.mjs): a lead posted to the ingest, that lead's message to the consumer, the sweep's schedule.
// Each is AWS's documented sample (./lambda-events/, which the handler tests use too), with only what a request
// carries replaced, as those tests do. The image's build has scripts/build/ but not test/.
import { readFileSync } from "node:fs"

const sample = (name) => JSON.parse(readFileSync(new URL(`./lambda-events/${name}`, import.meta.url), "utf8"))

const postLead = (() => {
  const event = sample("http-api-v2.json")
  const body = JSON.stringify({ email: "warm.up@example.com", campaignId: "warm-up", firstName: "Warm" })
  return {
    ...event,
    rawPath: "/leads",
    headers: { ...event.headers, "content-type": "application/json", "content-length": String(body.length) },
    requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: "POST", path: "/leads" } },
    body
  }
})()

const leadMessage = (() => {
  const event = sample("sqs.json")
  const body = JSON.stringify({ leadId: "00000000-0000-4000-8000-000000000000" })
  return { Records: event.Records.slice(0, 1).map((record) => ({ ...record, body })) }
})()

const schedule = sample("scheduled.json")

export const lambdas = [
  { name: "lambda/ingest", entry: "src/lambda/ingest.ts", assets: true, warmUpEvent: postLead },
  { name: "lambda/consumer", entry: "src/lambda/consumer.ts", warmUpEvent: leadMessage },
  { name: "lambda/sweep", entry: "src/lambda/sweep.ts", warmUpEvent: schedule }
]
