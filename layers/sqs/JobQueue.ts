import { randomUUID } from "node:crypto"
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type SQSClientConfig
} from "@aws-sdk/client-sqs"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Chunk from "effect/Chunk"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import {
  type ConsumeOptions,
  type DeadLetter,
  type JobInfo,
  JobQueue,
  LeadJob,
  QueueUnavailable,
  STORE_WAIT_REASON
} from "../../services/JobQueue.js"
import * as GroupCommit from "../shared/groupCommit.js"
import { config, type SqsOptions } from "./config.js"
import { delayReasonOf, describeThrown, type Outcome, outcomeOf } from "../shared/jobOutcome.js"
import { NOT_STARTED_REASON, type SettleOptions, SqsQueue, type SqsRecord } from "./SqsQueue.js"

export { type SqsOptions, config } from "./config.js"

/** SQS's limit on entries per batch call. */
const MAX_BATCH = 10
/** ChangeMessageVisibility's ceiling (12 hours). */
const MAX_VISIBILITY_S = 43_200
/** SendMessage's DelaySeconds ceiling (15 minutes); a FIFO queue takes no per-message delay at all. */
const MAX_DELAY_S = 900
/**
 * The longest one delay waits: SQS's DelaySeconds ceiling. A longer retry-after (a CRM's Retry-After of a day) is
 * waited in such steps, the job asking again after each (and delayed again while still refused), so a standard
 * queue's copy always waits by its DelaySeconds, and an absurd retry-after holds a lead no longer than 15 minutes.
 */
export const MAX_DELAY_MS = MAX_DELAY_S * 1000
/**
 * How long a job may wait for the lead store (delays whose reason starts "StoreUnavailable: ", src/pipeline/fate.ts),
 * from the first of an unbroken run of them, before each further one spends an attempt (as a retry): a store that
 * never comes back still ends its jobs FAILED rather than waiting without end. Other delays (the breaker open, a
 * rate-limit tier full, a CRM's Retry-After) are not bounded, as on BullMQ: a backlog draining at the limits' pace
 * must not fail its leads, and a delayed run that got past the store starts the clock again. (A retry in between
 * does not: the message it leaves to the redrive keeps the body it came with, clock included.)
 */
export const MAX_STORE_WAIT_MS = 24 * 60 * 60 * 1000
/**
 * How long one SQS call (the SDK's own retries included) may take before it is abandoned (its request aborted) and
 * fails as QueueUnavailable; a long poll gets its wait on top. The client's HTTP handler has no timeout of its own,
 * so a half-open connection would otherwise hold a call, a job's slot or a lease renewal forever.
 */
const CALL_TIMEOUT_MS = 10_000

export { SqsQueue, type SqsRecord } from "./SqsQueue.js"

/** A failure's text with the error's name: an AWS SDK error's name is its code (QueueDoesNotExist, AccessDenied...). */
const safeMessage = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : describeThrown(cause)

/** SQS refused a receipt handle for good (the message deleted, or received again since): asking again cannot help. */
class ReceiptGone extends Data.TaggedError("ReceiptGone")<{ readonly message: string }> {}

/**
 * Whether a ChangeMessageVisibility failed on a dead receipt handle: ReceiptHandleIsInvalid (unknown, or expired: the
 * message received again since), MessageNotInflight (visible again), or InvalidParameterValue naming the handle
 * ("Message does not exist or is not available for visibility timeout change", "The receipt handle has expired").
 */
const receiptGone = (cause: unknown): boolean => {
  if (!(cause instanceof Error)) return false
  const code = `${cause.name} ${String((cause as { Code?: unknown }).Code ?? "")}`
  if (/ReceiptHandleIsInvalid|MessageNotInflight/.test(code)) return true
  return /InvalidParameterValue/.test(code) && /receipt ?handle/i.test(cause.message)
}

/**
 * A job message's body: the job as the ingest sends it (LeadJob), and what a fresh copy of it carries forward from
 * the delivery it replaces (see `sendCopy` below). Fields a consumer does not know are ignored, so a copy read by an
 * older consumer is still the job.
 */
const JobMessage = Schema.Struct({
  ...LeadJob.fields,
  /** Attempts spent by the deliveries this copy replaces (absent: none). */
  priorAttempts: Schema.optional(Schema.NonNegativeInt),
  /** Epoch ms before which the job is not to run: the copy's first receive only hides it until then. */
  notBefore: Schema.optional(Schema.Number),
  /**
   * Epoch ms of the first of the job's store waits in a row (src/pipeline/fate.ts): past MAX_STORE_WAIT_MS after it,
   * each further one spends an attempt. (The name is the field's since 71a5212, which set it on any delay.)
   */
  delayedSince: Schema.optional(Schema.Number)
})
type JobMessage = typeof JobMessage.Type

const decodeJob = Schema.decodeUnknownEither(Schema.parseJson(JobMessage))

/** The job a message carries, without what only the queue reads. */
const jobOf = (message: JobMessage): LeadJob =>
  message.traceContext === undefined
    ? { leadId: message.leadId }
    : { leadId: message.leadId, traceContext: message.traceContext }

/**
 * Whether this receive only waits: the first receive of a copy with `notBefore` hides it until then (a FIFO copy
 * cannot be sent delayed, nor any copy for more than 15 minutes). Not with a single receive to spend (maxReceiveCount
 * 1): the redrive would take the message on the next one.
 */
const waitsOnly = (message: JobMessage, receiveCount: number | undefined, max: number): boolean =>
  message.notBefore !== undefined && receiveCount === 1 && max > 1

/**
 * Whether this receive only holds the message until its time: a copy with `notBefore` still ahead, on a queue with a
 * single receive per message (maxReceiveCount 1), where hiding it would spend that receive and the redrive take it on
 * the next one. Run at once instead, a FIFO copy (no per-message delay) would be delayed again and sent again at once:
 * a hot loop. So the consumer keeps it in flight and waits in-process (see `settleOne`).
 */
const holdsOnly = (message: JobMessage, now: number, max: number): boolean =>
  message.notBefore !== undefined && now < message.notBefore && max < 2

/** What a fresh copy carries over from the delivery it replaces. */
interface Carried {
  readonly priorAttempts: number
  readonly delayedSince?: number | undefined
}

/**
 * Attempts spent before this run: those the copy carries, and this message's earlier receives — each a run that
 * failed (a delay sends a fresh copy rather than spend a receive) but the one that only waited (`waitsOnly`). A count
 * that could not be read is taken as the last attempt (see SqsRecord.receiveCount).
 */
const attemptsBefore = (message: JobMessage, receiveCount: number | undefined, max: number): number => {
  if (receiveCount === undefined) return max - 1
  const waited = message.notBefore !== undefined && max > 1 ? 1 : 0
  return (message.priorAttempts ?? 0) + Math.max(0, receiveCount - 1 - waited)
}

/** ApproximateReceiveCount as a count of receives (1 or more), or undefined when it is missing or no such count. */
const receiveCountOf = (value: string | undefined): number | undefined => {
  const count = value === undefined ? Number.NaN : Number(value)
  return Number.isInteger(count) && count >= 1 ? count : undefined
}

/** maxReceiveCount of a queue's RedrivePolicy attribute (JSON); NaN without one, or one that cannot be read. */
const redriveMaxReceiveCount = (policy: string | undefined): number => {
  if (policy === undefined) return Number.NaN
  try {
    return Number(JSON.parse(policy).maxReceiveCount)
  } catch {
    return Number.NaN
  }
}

/**
 * A FIFO queue (.fifo) needs a group and a deduplication id. The group is the lead id (its copies stay in one group);
 * the deduplication id is the send's own, so a replay, a lead sent again or a delayed job's copy within SQS's 5-minute
 * deduplication window is delivered, not silently dropped (the pipeline takes a job delivered twice). The SDK's own
 * retries of one call send the same id, so SQS still drops what a retried call had already sent.
 */
const fifoFields = (queueUrl: string, leadId: string) =>
  queueUrl.endsWith(".fifo") ? { MessageGroupId: leadId, MessageDeduplicationId: randomUUID() } : {}

/** A message to send to the queue: a job (or a job's copy), and its DelaySeconds (standard queues only). */
interface Outgoing {
  readonly body: JobMessage
  readonly delaySeconds?: number | undefined
}

/** SendMessage's fields for one outgoing message. */
const sendFields = (queueUrl: string, outgoing: Outgoing) => ({
  MessageBody: JSON.stringify(outgoing.body),
  ...(outgoing.delaySeconds === undefined || outgoing.delaySeconds <= 0 ? {} : { DelaySeconds: outgoing.delaySeconds }),
  ...fifoFields(queueUrl, outgoing.body.leadId)
})

/** What the consumers read of the queue once it answers (see `queueSettings`). */
interface QueueSettings {
  /** A job's attempts and a message's receives: the redrive policy's maxReceiveCount (JOB_ATTEMPTS without one). */
  readonly maxAttempts: number
  /** The queue's visibility timeout: how long a job left to retry waits. */
  readonly visibilityS: number
}

/** The body of a dead-lettered job: the job, why and when, and the message it came from. */
interface DeadLetterBody extends LeadJob {
  readonly reason?: string
  readonly attemptsMade?: number
  readonly failedAt?: number
  /** The id of the message that was moved. */
  readonly messageId?: string
  /** An unreadable message's body, as received (cut to `MAX_KEPT_BODY` characters, then `bodyCut` is true). */
  readonly body?: string
  readonly bodyCut?: boolean
}

/** How much of an unreadable message's body its dead letter keeps (SQS takes at most 256 KiB per message). */
const MAX_KEPT_BODY = 64 * 1024

/**
 * A dead letter's group and deduplication ids on a FIFO dead-letter queue: the message's own id, so moving the same
 * delivery twice leaves one dead letter, and two failures of one lead (a replay that fails again) leave two.
 */
const deadLetterFifoFields = (queueUrl: string, messageId: string) =>
  queueUrl.endsWith(".fifo") ? { MessageGroupId: messageId, MessageDeduplicationId: messageId } : {}

export const make = (
  options: SqsOptions,
  clientConfig: SQSClientConfig = {}
): Effect.Effect<JobQueue.Service & SqsQueue.Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new SQSClient(clientConfig)),
      (client) => Effect.sync(() => client.destroy())
    )
    const unavailable = (what: string) => (cause: unknown) =>
      new QueueUnavailable({ message: `SQS ${what} failed: ${safeMessage(cause)}` })
    const call = <A>(what: string, f: (signal: AbortSignal) => Promise<A>, timeoutMs = CALL_TIMEOUT_MS) =>
      request(what, f, timeoutMs, unavailable(what))
    /** One SQS call, its failure as `refused` says, abandoned after `timeoutMs`. */
    const request = <A, E>(
      what: string,
      f: (signal: AbortSignal) => Promise<A>,
      timeoutMs: number,
      refused: (cause: unknown) => E
    ): Effect.Effect<A, E | QueueUnavailable> =>
      Effect.tryPromise({ try: f, catch: refused }).pipe(
        // interrupted on time, the call's AbortSignal aborts its request
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => new QueueUnavailable({ message: `SQS ${what} did not answer within ${timeoutMs} ms` })
        })
      )

    // read once it answers: maxReceiveCount of the queue's redrive policy, a job's attempts (JOB_ATTEMPTS without a
    // policy), and the queue's visibility timeout, after which a job left to retry is delivered again. A read that
    // fails is not kept: that job goes by the defaults (SQS's 30 s) and the next one asks again, so one transient
    // failure does not fix JOB_ATTEMPTS for the life of the process where the queue's maxReceiveCount is lower (its
    // last attempt unrecognised, the lead left PROCESSING while the redrive moves it).
    const fifo = options.queueUrl.endsWith(".fifo")
    const fallbackSettings: QueueSettings = { maxAttempts: options.attempts ?? 5, visibilityS: 30 }
    const readSettings = call("GetQueueAttributes", (abortSignal) =>
      client.send(
        new GetQueueAttributesCommand({
          QueueUrl: options.queueUrl,
          AttributeNames: ["RedrivePolicy", "VisibilityTimeout"]
        }),
        { abortSignal }
      )
    ).pipe(
      Effect.map((out) => {
        const max = redriveMaxReceiveCount(out.Attributes?.RedrivePolicy)
        const visibilityS = Number(out.Attributes?.VisibilityTimeout ?? Number.NaN)
        return {
          maxAttempts: Number.isInteger(max) && max > 0 ? max : fallbackSettings.maxAttempts,
          visibilityS: Number.isInteger(visibilityS) && visibilityS >= 0 ? visibilityS : fallbackSettings.visibilityS
        }
      })
    )
    const settingsRead = yield* Ref.make(Option.none<QueueSettings>())
    const queueSettings = Effect.flatMap(Ref.get(settingsRead), (known) =>
      Option.isSome(known)
        ? Effect.succeed(known.value)
        : readSettings.pipe(
            Effect.tap((read) => Ref.set(settingsRead, Option.some(read))),
            // said once, when the queue first answers: a FIFO queue with a single receive per message cannot hide a
            // delayed job's copy until its time without spending that receive, so the copy is held in flight
            Effect.tap((read) =>
              fifo && read.maxAttempts < 2
                ? Effect.logWarning(
                    "the FIFO queue's maxReceiveCount is 1: a delayed job is held in flight until its time (a worker slot held, and a killed process leaves it to the redrive); give its redrive policy a maxReceiveCount of 2 or more"
                  )
                : Effect.void
            ),
            Effect.catchAll((error) =>
              Effect.logWarning("could not read the SQS queue's attributes; this job goes by the defaults").pipe(
                Effect.annotateLogs({ error: error.message }),
                Effect.as(fallbackSettings)
              )
            )
          )
    )
    const maxAttempts = Effect.map(queueSettings, (settings) => settings.maxAttempts)

    // an enqueue is what an accepted lead's answer waits on: it gets QUEUE_TIMEOUT_MS, as a BullMQ enqueue does, not
    // the 10 s of the other calls (one that does not answer leaves the lead to the outbox sweep). A delayed job's copy
    // keeps the 10 s: no one waits on it, and one that timed out but landed leaves two messages (the delivery is kept)
    const sendTimeoutMs = options.sendTimeoutMs ?? 2000
    const send = (timeoutMs: number) => (messages: ReadonlyArray<Outgoing>) =>
      messages.length === 1 && messages[0] !== undefined
        ? call(
            "SendMessage",
            (abortSignal) =>
              client.send(
                new SendMessageCommand({
                  QueueUrl: options.queueUrl,
                  ...sendFields(options.queueUrl, messages[0] as Outgoing)
                }),
                { abortSignal }
              ),
            timeoutMs
          ).pipe(Effect.as([Either.right<void>(undefined)]))
        : call(
            "SendMessageBatch",
            (abortSignal) =>
              client.send(
                new SendMessageBatchCommand({
                  QueueUrl: options.queueUrl,
                  Entries: messages.map((outgoing, i) => ({ Id: String(i), ...sendFields(options.queueUrl, outgoing) }))
                }),
                { abortSignal }
              ),
            timeoutMs
          ).pipe(
            Effect.map((out) => {
              // sent only when SQS lists it as such: an entry in neither list is no message a delivery may be dropped for
              const sent = new Set((out.Successful ?? []).map((entry) => entry.Id))
              const failed = new Map((out.Failed ?? []).map((entry) => [entry.Id, entry]))
              return messages.map((_, i) => {
                if (sent.has(String(i))) return Either.right<void>(undefined)
                const entry = failed.get(String(i))
                return Either.left(
                  new QueueUnavailable({
                    message:
                      entry === undefined
                        ? "SQS SendMessageBatch answered without this entry"
                        : `SQS SendMessageBatch refused an entry: ${entry.Code ?? ""} ${entry.Message ?? ""}`
                  })
                )
              })
            })
          )

    // Group commit: under load the ingest's concurrent enqueues (and the consumer's delayed jobs' copies) go out as
    // SendMessageBatch calls of up to 10 messages
    const grouped = (timeoutMs: number) =>
      GroupCommit.make<Outgoing, void, QueueUnavailable>({ maxBatch: MAX_BATCH, maxInFlight: 8, run: send(timeoutMs) })
    const submit = yield* grouped(sendTimeoutMs)
    const submitCopy = yield* grouped(CALL_TIMEOUT_MS)
    const enqueue = (job: LeadJob) => submit({ body: job })

    /**
     * Sends a fresh copy of a delivery's job that runs after `delayMs`, carrying the attempts spent so far, so that the
     * delivery can be acknowledged: the copy's receives count from zero, where the delivery kept and hidden
     * (ChangeMessageVisibility) would spend one of the queue's maxReceiveCount receives each time it came back, and
     * a run of delays (an outage) would end in the redrive with the lead unfinished. The wait is the copy's
     * DelaySeconds; what that cannot hold (any wait on a FIFO queue, beyond 15 minutes on a standard one) is
     * `notBefore`, until which the copy's first receive only hides it.
     */
    const sendCopy = (job: LeadJob, carried: Carried, delayMs: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const waitS = Math.max(0, Math.ceil(delayMs / 1000))
        const delaySeconds = fifo ? 0 : Math.min(MAX_DELAY_S, waitS)
        return submitCopy({
          body: {
            ...job,
            ...(carried.priorAttempts > 0 ? { priorAttempts: carried.priorAttempts } : {}),
            ...(carried.delayedSince === undefined ? {} : { delayedSince: carried.delayedSince }),
            ...(waitS > delaySeconds ? { notBefore: now + Math.max(0, delayMs) } : {})
          },
          delaySeconds
        })
      })

    const attribute = (out: { Attributes?: Partial<Record<string, string>> | undefined }, name: string) =>
      Number(out.Attributes?.[name] ?? 0)

    const queueAttributes = (url: string) =>
      call("GetQueueAttributes", (abortSignal) =>
        client.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed"
            ]
          }),
          { abortSignal }
        )
      )

    // SQS keeps no completed count and no per-message age (CloudWatch's ApproximateAgeOfOldestMessage has it)
    const stats = Effect.gen(function* () {
      const main = yield* queueAttributes(options.queueUrl)
      const dlq =
        options.deadLetterQueueUrl === undefined ? undefined : yield* queueAttributes(options.deadLetterQueueUrl)
      return {
        waiting: attribute(main, "ApproximateNumberOfMessages"),
        active: attribute(main, "ApproximateNumberOfMessagesNotVisible"),
        delayed: attribute(main, "ApproximateNumberOfMessagesDelayed"),
        completed: 0,
        failed:
          dlq === undefined
            ? 0
            : attribute(dlq, "ApproximateNumberOfMessages") + attribute(dlq, "ApproximateNumberOfMessagesNotVisible"),
        oldestWaitingAgeMs: 0
      }
    })

    const receive = (url: string, max: number, visibilityS: number | undefined, waitS = 0) =>
      call(
        "ReceiveMessage",
        (abortSignal) =>
          client.send(
            new ReceiveMessageCommand({
              QueueUrl: url,
              MaxNumberOfMessages: Math.min(MAX_BATCH, Math.max(1, max)),
              ...(visibilityS === undefined ? {} : { VisibilityTimeout: visibilityS }),
              WaitTimeSeconds: waitS,
              MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"]
            }),
            { abortSignal }
          ),
        // a long poll answers within its wait
        waitS * 1000 + CALL_TIMEOUT_MS
      ).pipe(Effect.map((out) => out.Messages ?? []))

    const bodyOf = (message: Message): Partial<DeadLetterBody> => {
      try {
        return JSON.parse(message.Body ?? "{}") as Partial<DeadLetterBody>
      } catch {
        return {}
      }
    }

    /** Peeks at the dead-letter queue: each receive hides nothing (visibility 0), so the list changes nothing. */
    const deadLetters = (limit: number) =>
      Effect.gen(function* () {
        const dlqUrl = options.deadLetterQueueUrl
        if (dlqUrl === undefined || limit <= 0) return [] as ReadonlyArray<DeadLetter>
        const max = yield* maxAttempts
        const seen = new Map<string, DeadLetter>()
        for (let round = 0; round < Math.ceil(limit / MAX_BATCH) + 2 && seen.size < limit; round++) {
          const messages = yield* receive(dlqUrl, MAX_BATCH, 0)
          if (messages.length === 0) break
          let fresh = 0
          for (const message of messages) {
            if (message.MessageId === undefined || seen.has(message.MessageId) || seen.size >= limit) continue
            fresh++
            const body = bodyOf(message)
            seen.set(message.MessageId, {
              leadId: body.leadId ?? "unknown",
              reason: body.reason ?? `received ${max} times without success (the queue's redrive policy)`,
              attemptsMade: body.attemptsMade ?? max,
              failedAt: new Date(body.failedAt ?? Number(message.Attributes?.SentTimestamp ?? 0))
            })
          }
          if (fresh === 0) break
        }
        return [...seen.values()]
      })

    const deleteMessage = (url: string, receiptHandle: string) =>
      call("DeleteMessage", (abortSignal) =>
        client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle }), { abortSignal })
      )

    /** Fails with ReceiptGone when SQS refuses the handle for good (see `receiptGone`), else QueueUnavailable. */
    const changeVisibility = (url: string, receiptHandle: string, seconds: number, timeoutMs = CALL_TIMEOUT_MS) =>
      request(
        "ChangeMessageVisibility",
        (abortSignal) =>
          client.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: url,
              ReceiptHandle: receiptHandle,
              VisibilityTimeout: Math.min(MAX_VISIBILITY_S, Math.max(0, Math.ceil(seconds)))
            }),
            { abortSignal }
          ),
        timeoutMs,
        (cause) =>
          receiptGone(cause)
            ? new ReceiptGone({
                message: `SQS ChangeMessageVisibility refused the receipt handle: ${safeMessage(cause)}`
              })
            : unavailable("ChangeMessageVisibility")(cause)
      )

    /** Moves a lead's dead letter back to the queue (sent, then deleted from the DLQ). false when there is none. */
    const replay = (leadId: string) =>
      Effect.gen(function* () {
        const dlqUrl = options.deadLetterQueueUrl
        if (dlqUrl === undefined) return false
        const others: Array<Message> = []
        let found: Message | undefined
        for (let round = 0; round < 100 && found === undefined; round++) {
          const messages = yield* receive(dlqUrl, MAX_BATCH, 30)
          if (messages.length === 0) break
          for (const message of messages) {
            if (found === undefined && bodyOf(message).leadId === leadId) found = message
            else others.push(message)
          }
        }
        // the others were only looked at: visible again at once
        yield* Effect.forEach(
          others,
          (message) => changeVisibility(dlqUrl, message.ReceiptHandle ?? "", 0).pipe(Effect.ignore),
          { discard: true, concurrency: 10 }
        )
        if (found === undefined) return false
        const body = bodyOf(found)
        yield* enqueue({ leadId, ...(body.traceContext === undefined ? {} : { traceContext: body.traceContext }) })
        yield* deleteMessage(dlqUrl, found.ReceiptHandle ?? "")
        return true
      })

    /** Sends a dead letter for `record` to SQS_DLQ_URL (the caller has checked there is one). */
    const moveToDeadLetters = (
      dlqUrl: string,
      record: SqsRecord,
      job: LeadJob | undefined,
      info: JobInfo,
      reason: string
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (failedAt) => {
        const letter: DeadLetterBody = {
          ...(job ?? { leadId: "unknown" }),
          reason,
          attemptsMade: info.attemptsMade + 1,
          failedAt,
          messageId: record.messageId,
          // an unreadable message is kept as it came, so what was sent can be seen and sent again
          ...(job === undefined
            ? record.body.length > MAX_KEPT_BODY
              ? { body: record.body.slice(0, MAX_KEPT_BODY), bodyCut: true }
              : { body: record.body }
            : {})
        }
        return call("SendMessage", (abortSignal) =>
          client.send(
            new SendMessageCommand({
              QueueUrl: dlqUrl,
              MessageBody: JSON.stringify(letter),
              ...deadLetterFifoFields(dlqUrl, record.messageId)
            }),
            { abortSignal }
          )
        )
      }).pipe(Effect.asVoid)

    /**
     * One message's fate; true when it is settled (delete / acknowledge), false to report it failed. `whileRunning`
     * wraps the job's own run (the polling consumer renews its lease there, and only there: the message's last
     * visibility change must come after the last renewal); `onRetry` runs when the job is left to retry on this
     * message. `settings.maxAttempts` is both a job's attempts and a message's receives (the redrive policy's
     * maxReceiveCount); `settings.visibilityS` how long a retry waits.
     */
    const settleOne = (
      record: SqsRecord,
      settings: QueueSettings,
      run: Pick<SettleOptions, "process" | "onDeadLetter" | "holdUntil">,
      whileRunning: <A, E, R>(job: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = (job) => job,
      onRetry: Effect.Effect<void> = Effect.void
    ): Effect.Effect<boolean> =>
      Effect.gen(function* () {
        const max = settings.maxAttempts
        const dlqUrl = options.deadLetterQueueUrl
        // onDeadLetter sees the attempts spent, this run included (as the dead letter reports them); suspended: a
        // processor that throws instead of failing is a defect of this job, not of the consumer
        const deadLetter = (info: JobInfo, reason: string) =>
          Effect.suspend(() => run.onDeadLetter({ ...info, attemptsMade: info.attemptsMade + 1 }, reason)).pipe(
            Effect.catchAllCause((cause) => Effect.logError("onDeadLetter failed", Cause.pretty(cause)))
          )
        const hide = (seconds: number, failed: string) =>
          changeVisibility(options.queueUrl, record.receiptHandle, seconds).pipe(
            Effect.catchAll((error) => Effect.logWarning(failed).pipe(Effect.annotateLogs({ error: error.message })))
          )
        /** No redrive wait: the lead FAILED, the job moved to the dead-letter queue now, this delivery acknowledged. */
        const deadLetterNow = (job: LeadJob, info: JobInfo, reason: string) =>
          Effect.gen(function* () {
            yield* deadLetter(info, reason)
            if (dlqUrl === undefined) {
              // the lead is FAILED with its reason; a redelivery would find it so and be acknowledged anyway
              yield* Effect.logWarning(
                "the lead is FAILED; no dead letter sent (SQS_DLQ_URL is not set), message deleted"
              )
              return true
            }
            return yield* moveToDeadLetters(dlqUrl, record, job, info, reason).pipe(
              Effect.as(true),
              Effect.catchAll((error) =>
                Effect.logWarning("could not move the job to the dead-letter queue").pipe(
                  Effect.annotateLogs({ error: error.message }),
                  Effect.as(false)
                )
              )
            )
          })

        const decoded = decodeJob(record.body)
        if (Either.isLeft(decoded)) {
          const attemptsMade = record.receiveCount === undefined ? max - 1 : Math.max(0, record.receiveCount - 1)
          const info: JobInfo = { leadId: "unknown", attemptsMade, maxAttempts: max }
          // no dead-letter queue of ours: not acknowledged, so the queue's redrive policy moves it (not deleted)
          if (dlqUrl === undefined) {
            yield* Effect.logWarning(
              "invalid SQS job payload; left to the queue's redrive policy (SQS_DLQ_URL is not set)"
            )
            return false
          }
          return yield* moveToDeadLetters(dlqUrl, record, undefined, info, "invalid job payload").pipe(
            Effect.zipRight(Effect.logWarning("invalid SQS job payload; moved to the dead-letter queue")),
            Effect.as(true),
            Effect.catchAll((error) =>
              Effect.logWarning("invalid SQS job payload; could not move it to the dead-letter queue").pipe(
                Effect.annotateLogs({ error: error.message }),
                Effect.as(false)
              )
            )
          )
        }
        const message = decoded.right
        if (waitsOnly(message, record.receiveCount, max)) {
          // a copy that could not be sent delayed: hidden until its time, the job not run (no attempt spent)
          const now = yield* Clock.currentTimeMillis
          yield* hide(
            Math.max(0, (message.notBefore ?? now) - now) / 1000,
            "could not hide a delayed job until its time"
          )
          return false
        }
        const job = jobOf(message)
        const info: JobInfo = {
          ...job,
          attemptsMade: attemptsBefore(message, record.receiveCount, max),
          maxAttempts: max
        }
        // after this receive the redrive policy moves the message (a count that cannot be read is taken as the last)
        const lastReceive = record.receiveCount === undefined || record.receiveCount >= max

        /**
         * The job waits `waitMs` in a fresh copy carrying `carried`, and this delivery is acknowledged (true). If the
         * copy cannot be sent, the delivery is hidden for the wait instead (false), which spends its receive.
         */
        const delayBy = (carried: Carried, waitMs: number, reason: string) =>
          sendCopy(job, carried, waitMs).pipe(
            Effect.as(true),
            Effect.catchAll((error) =>
              Effect.gen(function* () {
                // the delivery kept instead, hidden for the retry-after: that receive counts toward maxReceiveCount
                yield* Effect.logWarning("could not send the delayed job again; its delivery is hidden instead").pipe(
                  Effect.annotateLogs({ error: error.message })
                )
                yield* hide(waitMs / 1000, "could not delay the SQS message")
                // on its last receive the redrive will move it: the lead is FAILED (replayable) rather than left waiting
                if (lastReceive) yield* deadLetter(info, `${reason}: ${error.message}`)
                return false
              })
            )
          )

        const arrived = yield* Clock.currentTimeMillis
        if (holdsOnly(message, arrived, max)) {
          // held in flight until its time (the polling consumer's lease renewed), as long as this consumer may hold it
          // (a Lambda invocation, until near its deadline); then run, or, its time not come, passed on to a fresh copy
          // that keeps its time — at most one pass per hold, never a hot loop, and no receive spent on the wait
          const notBefore = message.notBefore ?? arrived
          // never longer than one delay may wait (a copy's time set by an older release, or by a skewed clock)
          const until = Math.min(notBefore, run.holdUntil ?? notBefore, arrived + MAX_DELAY_MS)
          const held = yield* Effect.exit(whileRunning(Effect.sleep(Duration.millis(Math.max(0, until - arrived)))))
          const now = yield* Clock.currentTimeMillis
          if (Exit.isFailure(held) || now < notBefore) {
            return yield* delayBy(
              { priorAttempts: info.attemptsMade, delayedSince: message.delayedSince },
              notBefore - now,
              "held on its only receive, and the job could not be sent again"
            )
          }
        }

        const exit = yield* Effect.exit(whileRunning(Effect.suspend(() => run.process(info))))
        const ranAt = yield* Clock.currentTimeMillis
        const ran = outcomeOf(exit, safeMessage)
        // a store wait MAX_STORE_WAIT_MS after the first of an unbroken run of them is a retry: it spends an attempt
        const reason = ran._tag === "Delay" ? delayReasonOf(exit) : undefined
        const storeWait = reason?.startsWith(STORE_WAIT_REASON) === true
        const outcome: Outcome =
          storeWait && message.delayedSince !== undefined && ranAt - message.delayedSince > MAX_STORE_WAIT_MS
            ? {
                _tag: "Retry",
                reason: `waited for the lead store for more than ${MAX_STORE_WAIT_MS / 3_600_000} hours: ${reason}`
              }
            : ran
        switch (outcome._tag) {
          case "Done":
            return true
          case "Delay":
            // A fresh copy waits out the retry-after (at most MAX_DELAY_MS) with the attempts spent so far, and this
            // delivery is acknowledged: no receive spent, so no run of delays ends in the redrive. Sent first: a crash
            // before the delivery is deleted leaves two (the pipeline takes a job twice), never none.
            // The store-wait clock runs while the job's delays are store waits, from the first; any other delay (the
            // run got past the store) starts it again. A run that did not reach the store (interrupted, or not
            // started near a Lambda invocation's deadline) says nothing of it: the clock is carried as it was.
            return yield* delayBy(
              {
                priorAttempts: info.attemptsMade,
                delayedSince: storeWait
                  ? (message.delayedSince ?? ranAt)
                  : reason === undefined || reason === NOT_STARTED_REASON
                    ? message.delayedSince
                    : undefined
              },
              Math.min(MAX_DELAY_MS, outcome.delayMs),
              "delayed on its last receive, and the job could not be sent again"
            )
          case "Retry":
            if (info.attemptsMade + 1 >= max) {
              // its attempts are spent: the lead is FAILED now, as BullMQ's last attempt does; on the message's last
              // receive the redrive policy moves it, else (attempts carried by a copy) it is dead-lettered here
              if (!lastReceive) return yield* deadLetterNow(job, info, outcome.reason)
              yield* deadLetter(info, outcome.reason)
            } else if (lastReceive) {
              // receives spent before attempts: a fresh copy carries them on, after a retry's wait
              const carried = yield* sendCopy(
                job,
                { priorAttempts: info.attemptsMade + 1, delayedSince: message.delayedSince },
                settings.visibilityS * 1000
              ).pipe(
                Effect.as(true),
                Effect.catchAll((error) =>
                  Effect.logWarning("could not send the job again on its last receive; the lead is FAILED").pipe(
                    Effect.annotateLogs({ error: error.message }),
                    Effect.zipRight(deadLetter(info, outcome.reason)),
                    Effect.as(false)
                  )
                )
              )
              if (carried) return true
            }
            yield* onRetry
            return false
          case "Permanent":
            return yield* deadLetterNow(job, info, outcome.reason)
        }
      })

    const settle: SqsQueue.Service["settle"] = (records, run) =>
      Effect.gen(function* () {
        const settings = yield* queueSettings
        const settled = yield* Effect.forEach(records, (record) => settleOne(record, settings, run), {
          concurrency: Math.max(1, run.concurrency)
        })
        return records.filter((_, i) => !settled[i]).map((record) => record.messageId)
      })

    const recordOf = (message: Message): SqsRecord => ({
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      // a count SQS did not send, or one that is no number, is unknown: taken as the last receive (see SqsRecord)
      receiveCount: receiveCountOf(message.Attributes?.ApproximateReceiveCount)
    })

    const leaseS = Math.min(MAX_VISIBILITY_S, Math.max(1, Math.ceil(options.leaseSeconds ?? 30)))
    const renewEveryMs = (leaseS * 1000) / 3
    /**
     * `job` with its message kept hidden while it runs: the lease renewed every third of it, stopped when it ends. A
     * renewal that does not answer within half a period is abandoned, so the next one still comes before the lease
     * runs out (one hung call would otherwise have stopped every renewal after it). One that SQS refuses for good (the
     * handle dead: the message deleted, or received again by another consumer since) ends the renewals, said once.
     */
    const leased =
      (record: SqsRecord) =>
      <A, E, R>(job: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
        /** One renewal; false once the handle is dead (asking again cannot help). */
        const renew = changeVisibility(
          options.queueUrl,
          record.receiptHandle,
          leaseS,
          Math.min(CALL_TIMEOUT_MS, renewEveryMs / 2)
        ).pipe(
          Effect.as(true),
          Effect.catchTags({
            ReceiptGone: (error) =>
              Effect.logWarning(
                "the SQS message's receipt handle is no longer valid (deleted or received again since); its lease is no longer renewed"
              ).pipe(Effect.annotateLogs({ error: error.message, messageId: record.messageId }), Effect.as(false)),
            QueueUnavailable: (error) =>
              Effect.logWarning("could not renew the lease on an SQS message in flight").pipe(
                Effect.annotateLogs({ error: error.message, messageId: record.messageId }),
                Effect.as(true)
              )
          })
        )
        return Effect.scoped(
          Effect.zipRight(
            renew.pipe(
              Effect.delay(Duration.millis(renewEveryMs)),
              Effect.repeat({ while: (renewing) => renewing }),
              Effect.forkScoped
            ),
            job
          )
        )
      }

    /**
     * The consumer program on SQS: long-polls for as many messages as it has free slots (at most `concurrency` jobs
     * run at once), runs each as it comes under a lease it renews, and deletes each as soon as its job is settled, so
     * a slow job neither holds the others' slots nor keeps their messages from being deleted; until the scope closes,
     * which drains the running jobs within `shutdownTimeoutMs`.
     */
    const consume = (run: ConsumeOptions): Effect.Effect<void, never, Scope.Scope> =>
      Effect.gen(function* () {
        const concurrency = Math.max(1, run.concurrency)
        // one token per free slot: taken before a receive asks for a message, given back when its job is settled
        const free = yield* Queue.bounded<void>(concurrency)
        // the jobs running, interrupted when the scope closes past the shutdown timeout (their messages made visible)
        const running = yield* FiberSet.make()
        const tokens = (n: number) => Array.from({ length: n }, () => undefined)
        yield* Queue.offerAll(free, tokens(concurrency))
        // A job is interruptible (a shutdown past its time stops it: sent again at once, as a delay of 0), and
        // what follows it is not: a settled job's delete, dead letter or delay, cut off halfway, would run it again.
        const handle = (record: SqsRecord) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function* () {
              const settings = yield* restore(queueSettings)
              // a job left to retry comes back after the queue's own visibility timeout, as on Lambda, not after
              // what is left of the lease
              const retryLater = changeVisibility(options.queueUrl, record.receiptHandle, settings.visibilityS).pipe(
                Effect.catchAll((error) =>
                  Effect.logWarning("could not hide an SQS message left to retry").pipe(
                    Effect.annotateLogs({ error: error.message })
                  )
                )
              )
              if (yield* settleOne(record, settings, run, (job) => restore(leased(record)(job)), retryLater)) {
                yield* deleteMessage(options.queueUrl, record.receiptHandle).pipe(
                  Effect.catchAll((error) =>
                    Effect.logWarning("could not delete a settled SQS message; it will be delivered again").pipe(
                      Effect.annotateLogs({ error: error.message })
                    )
                  )
                )
              }
            }).pipe(Effect.ensuring(Queue.offer(free, undefined)))
          )
        // Taking the slots and the messages received into `running` is one step a shutdown cannot split (it may stop
        // the wait for a slot or the long poll itself): a message received and never started would come back only
        // after its lease, that receive spent toward maxReceiveCount.
        const once = Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            yield* restore(Queue.take(free))
            const wanted = 1 + Chunk.size(yield* Queue.takeUpTo(free, Math.min(MAX_BATCH, concurrency) - 1))
            const messages = yield* restore(
              receive(options.queueUrl, wanted, leaseS, options.waitTimeSeconds ?? 20)
            ).pipe(Effect.onError(() => Queue.offerAll(free, tokens(wanted))))
            yield* Queue.offerAll(free, tokens(wanted - messages.length))
            // (a fiber forked here would inherit the mask: each job is made interruptible again)
            for (const message of messages) {
              yield* FiberSet.run(running, Effect.interruptible(handle(recordOf(message))))
            }
          })
        )
        const polling = yield* once.pipe(
          Effect.catchAll((error) => Effect.logWarning(error.message).pipe(Effect.zipRight(Effect.sleep("1 second")))),
          Effect.forever,
          Effect.forkScoped
        )
        // closing (added last, so run first): stop receiving, then give the running jobs their time to finish (their
        // leases still renewed) before the FiberSet interrupts what is left
        const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000
        yield* Effect.addFinalizer(() =>
          Effect.gen(function* () {
            yield* Fiber.interrupt(polling)
            // finalizers run uninterruptibly: the wait must be made interruptible, or the timeout could never end it
            const drained = yield* Effect.timeoutOption(
              Effect.interruptible(FiberSet.awaitEmpty(running)),
              Duration.millis(shutdownTimeoutMs)
            )
            if (Option.isNone(drained)) {
              yield* Effect.logWarning(
                "shutdown timeout reached; interrupting the running SQS jobs (their jobs are sent again at once)"
              ).pipe(Effect.annotateLogs({ jobs: yield* FiberSet.size(running), shutdownTimeoutMs }))
            }
          })
        )
      })

    return { client, options, settle, enqueue, sendsDuplicates: true, stats, deadLetters, replay, consume }
  })

/** The queue as a JobQueue and as SqsQueue (the Lambda consumer's batch settling), one client for both. */
export const layer = (options: SqsOptions, clientConfig: SQSClientConfig = {}): Layer.Layer<JobQueue | SqsQueue> =>
  Layer.scopedContext(
    Effect.map(make(options, clientConfig), (service) =>
      Context.make(JobQueue, service).pipe(Context.add(SqsQueue, service))
    )
  )

/** From the environment: SQS_QUEUE_URL, SQS_DLQ_URL, JOB_ATTEMPTS; the SDK reads AWS_REGION, AWS_ENDPOINT_URL_SQS. */
export const layerConfig: Layer.Layer<JobQueue | SqsQueue, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(config, (options) => layer(options))
)
