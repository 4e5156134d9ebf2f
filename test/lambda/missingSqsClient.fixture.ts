// An app whose install lacks @aws-sdk/client-sqs (an optional peer) imports revenueflow/lambda and invokes the
// consumer once. Prints what the import and the invocation gave. Run by missingSqsClient.test.ts as its own process.
import { register } from "node:module"

register("./withoutSqsClient.mjs", import.meta.url)

const event = {
  Records: [
    {
      messageId: "m-1",
      receiptHandle: "r-1",
      body: JSON.stringify({ leadId: "00000000-0000-4000-8000-000000000000" }),
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:leads",
      awsRegion: "eu-west-1"
    }
  ]
}

try {
  const lambda = await import("../../src/lambda/index.js")
  console.log("imported")
  await lambda.consumerHandler(event as never).then(
    (answer) => console.log(`answered: ${JSON.stringify(answer)}`),
    (error: Error) => console.log(`invocation failed: ${error.message}`)
  )
  await lambda.dispose()
} catch (error) {
  console.log(`import failed: ${(error as Error).message}`)
}
