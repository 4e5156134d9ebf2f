import { Duration } from "aws-cdk-lib"
import * as sqs from "aws-cdk-lib/aws-sqs"
import { Construct } from "constructs"
import type { ServerlessConfig } from "./config.js"

/**
 * The serverless variant's job queue (SQS_QUEUE_URL) and its dead-letter queue (SQS_DLQ_URL), both encrypted
 * (SSE-SQS: no key policy to manage, nothing for the functions to be granted) and refusing plain HTTP.
 * - visibility timeout: 6x the consumer's timeout plus the batching window, as AWS advises for a Lambda source, so a
 *   batch still being processed (and retried by the poller) is not handed to a second invocation;
 * - redrive after `maxReceiveCount` receives: the job's attempts. A delay (rate limit, breaker open, the store failing
 *   over) spends none: the consumer sends the job again, delayed, and acknowledges the delivery. A job failing on
 *   every attempt is retried that often, one visibility timeout apart (about 5 hours at the default 50), before its
 *   lead is FAILED;
 * - 14 days' retention on both: a job delayed by a long CRM outage, or waiting in the DLQ for a replay, is kept as
 *   long as SQS allows (a dead letter keeps its first enqueue time, so the DLQ must keep messages no shorter).
 */
export class Queues extends Construct {
  readonly queue: sqs.Queue
  readonly deadLetters: sqs.Queue

  constructor(scope: Construct, id: string, props: { readonly config: ServerlessConfig }) {
    super(scope, id)
    const { config } = props
    const common = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14)
    } as const
    this.deadLetters = new sqs.Queue(this, "DeadLetters", common)
    this.queue = new sqs.Queue(this, "Jobs", {
      ...common,
      visibilityTimeout: Duration.seconds(6 * config.consumerTimeoutSeconds + config.maxBatchingWindowSeconds),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: config.maxReceiveCount }
    })
  }
}
