// The SQS queue's tag and shapes, apart from its implementation (JobQueue.ts): an entry that names the tag (the Lambda
// consumer) does not load @aws-sdk/client-sqs with it, so a missing client is the install hint of the layer that
// needs it, not an import error (the client's types are erased).
import type { SQSClient } from "@aws-sdk/client-sqs"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ConsumeOptions } from "../../services/JobQueue.js"
import type { SqsOptions } from "./config.js"

/**
 * The reason of the delay a Lambda consumer gives a job it does not start this close to its invocation's deadline:
 * the run never reached the lead store, so it neither counts as a store wait nor ends a run of them.
 */
export const NOT_STARTED_REASON = "not started this close to the invocation's deadline"

/** One received message, whichever way it arrived (a ReceiveMessage answer or a Lambda SQS event record). */
export interface SqsRecord {
  readonly messageId: string
  readonly receiptHandle: string
  readonly body: string
  /**
   * ApproximateReceiveCount: 1 on the first delivery. Undefined when it could not be read (a hand-made event): taken
   * as the last receive, the one safe guess — a transient failure then marks the lead FAILED (visible, replayable)
   * early, where taking it as the first could let the redrive move the message with the lead left PROCESSING, unseen.
   */
  readonly receiveCount: number | undefined
}

/** How a batch is settled: the job's processor, its dead-lettering, how many at once, and how long a wait may hold. */
export interface SettleOptions extends Pick<ConsumeOptions, "process" | "onDeadLetter" | "concurrency"> {
  /**
   * Epoch ms until which a message may be held in flight while its job waits (a queue with one receive per message
   * cannot spend one on a wait, see JobQueue.ts `holdsOnly`): the Lambda invocation's deadline, less its margin.
   * Unset: the whole wait (at most MAX_DELAY_MS).
   */
  readonly holdUntil?: number | undefined
}

/** What the SQS-specific entry points (the Lambda consumer) use beside the JobQueue interface. */
export declare namespace SqsQueue {
  export interface Service {
    readonly client: SQSClient
    readonly options: SqsOptions
    /**
     * Settles a batch of received messages: each job runs through `process`, and the answer lists the message ids
     * that failed (Lambda's batchItemFailures). Success and permanent failure acknowledge; a delay sends a fresh copy
     * of the job that waits out the retry-after, and acknowledges the delivery (no receive spent); a retry leaves it
     * to the queue's redrive policy (a fresh copy carries its attempts on when its receives, not its attempts, ran out).
     */
    readonly settle: (records: ReadonlyArray<SqsRecord>, options: SettleOptions) => Effect.Effect<ReadonlyArray<string>>
  }
}

/** The SQS queue's own operations (batch settling for the Lambda consumer), beside its JobQueue. */
export class SqsQueue extends Context.Tag("revenueflow/SqsQueue")<SqsQueue, SqsQueue.Service>() {}
