import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { layer as memoryLeadStore } from "../../layers/memory/LeadStore.js"
import { SqsQueue, type SqsOptions, layer as sqsLayer } from "../../layers/sqs/JobQueue.js"
import { JobDelay, JobPermanent, JobQueue, JobRetry, type JobInfo } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { sweepOnce } from "../../src/pipeline/sweeper.js"
import { type FakeSqs, makeFakeSqs } from "../fakes/sqs.js"
import { newLeadKey, sampleLead } from "../store/fixtures.js"
import { makeLogCapture, withMessage } from "../support/logCapture.js"
import { waitUntil } from "../support/poll.js"

const clientConfig = (fake: FakeSqs) => ({
  endpoint: fake.url,
  region: "eu-west-1",
  credentials: { accessKeyId: "AKIAFAKESQSTEST", secretAccessKey: "fake-secret" }
})

/**
 * A fake SQS with a queue (visibility timeout `visibilityTimeoutS`, 30 s by default) and its DLQ (maxReceiveCount 3),
 * and the SQS layer pointed at it (with `sqsOptions` over its defaults).
 */
const withQueue = <A, E>(
  body: (fake: FakeSqs, names: { queue: string; dlq: string }) => Effect.Effect<A, E, JobQueue | SqsQueue>,
  { visibilityTimeoutS = 30, ...sqsOptions }: { visibilityTimeoutS?: number } & Partial<SqsOptions> = {}
) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeSqs
    const names = { queue: "leads", dlq: "leads-dlq" }
    const { url, dlqUrl } = fake.createQueue(names.queue, {
      deadLetter: { name: names.dlq, maxReceiveCount: 3 },
      visibilityTimeoutS
    })
    return yield* body(fake, names).pipe(
      Effect.provide(
        sqsLayer({ queueUrl: url, deadLetterQueueUrl: dlqUrl, attempts: 5, ...sqsOptions }, clientConfig(fake))
      )
    )
  }).pipe(Effect.scoped)

/** Receives what the queue holds now, as Lambda's poller would, through the real client. */
const receiveAll = (fake: FakeSqs, name: string) =>
  Effect.promise(async () => {
    const client = new SQSClient(clientConfig(fake))
    try {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: `${fake.url}/123456789012/${name}`,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ["ApproximateReceiveCount"]
        })
      )
      return (out.Messages ?? []).map((m) => ({
        messageId: m.MessageId ?? "",
        receiptHandle: m.ReceiptHandle ?? "",
        body: m.Body ?? "",
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1)
      }))
    } finally {
      client.destroy()
    }
  })

/**
 * The consumer program on two slots, each job taking `duration`: the leads run, in order (a lead twice is a second
 * delivery while it ran), and when the first job ended.
 */
const consumeSlowly = (duration: Duration.DurationInput) =>
  Effect.gen(function* () {
    const queue = yield* JobQueue
    const runs: Array<string> = []
    const finished = yield* Deferred.make<void>()
    yield* queue.consume({
      concurrency: 2,
      process: (job) =>
        Effect.sync(() => runs.push(job.leadId)).pipe(
          Effect.zipRight(Effect.sleep(duration)),
          Effect.zipRight(Deferred.succeed(finished, undefined))
        ),
      onDeadLetter: () => Effect.void
    })
    return { queue, runs, finished }
  })

/** What Lambda's poller does after the handler answers: deletes every record not in batchItemFailures. */
const acknowledge = (
  fake: FakeSqs,
  name: string,
  records: ReadonlyArray<{ messageId: string; receiptHandle: string }>,
  failed: ReadonlyArray<string>
) =>
  Effect.promise(async () => {
    const client = new SQSClient(clientConfig(fake))
    for (const record of records.filter((r) => !failed.includes(r.messageId))) {
      await client.send(
        new DeleteMessageCommand({ QueueUrl: `${fake.url}/123456789012/${name}`, ReceiptHandle: record.receiptHandle })
      )
    }
    client.destroy()
  })

/**
 * A consumer (one slot) whose job waits until the end of `then`, its lease renewed: `then` runs once the first
 * renewal went out, with the log lines and a count of the renewals SQS was sent.
 */
const whileJobRuns = <A, E>(
  fake: FakeSqs,
  leadId: string,
  then: (job: {
    readonly lines: ReadonlyArray<string>
    readonly renewals: () => number
  }) => Effect.Effect<A, E, JobQueue>
) =>
  Effect.gen(function* () {
    const capture = makeLogCapture()
    const renewals = () => fake.operations().filter((op) => op === "ChangeMessageVisibility").length
    const release = yield* Deferred.make<void>()
    yield* Effect.gen(function* () {
      const queue = yield* JobQueue
      yield* queue.consume({ concurrency: 1, process: () => Deferred.await(release), onDeadLetter: () => Effect.void })
      yield* queue.enqueue({ leadId })
      yield* waitUntil("the job's lease is renewed", () => renewals() >= 1)
      yield* then({ lines: capture.lines, renewals })
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.scoped, Effect.provide(capture.layer))
  })

describe("JobQueue on SQS (fake SQS over the AWS JSON protocol, real @aws-sdk/client-sqs)", () => {
  it.live("a job is one message whose body is the job JSON (lead id and trace context); the SDK checks its MD5", () =>
    withQueue((fake, names) =>
      Effect.gen(function* () {
        const queue = yield* JobQueue
        const traceContext = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
        yield* queue.enqueue({ leadId: "lead-1", traceContext })
        expect(fake.operations().filter((op) => op.startsWith("Send"))).toEqual(["SendMessage"])
        expect(fake.messages(names.queue).map((m) => JSON.parse(m.body))).toEqual([{ leadId: "lead-1", traceContext }])
        expect(yield* queue.stats).toMatchObject({ waiting: 1, active: 0, delayed: 0, failed: 0 })
      })
    )
  )

  it.live("concurrent enqueues go out as SendMessageBatch calls of at most 10 entries", () =>
    withQueue((fake, names) =>
      Effect.gen(function* () {
        const queue = yield* JobQueue
        const ids = Array.from({ length: 45 }, (_, i) => `lead-${i}`)
        yield* Effect.forEach(ids, (leadId) => queue.enqueue({ leadId }), { concurrency: "unbounded", discard: true })
        const batches = fake.requests
          .filter((r) => r.headers["x-amz-target"] === "AmazonSQS.SendMessageBatch")
          .map((r) => (JSON.parse(r.body) as { Entries: Array<unknown> }).Entries.length)
        expect(batches.length).toBeGreaterThan(0)
        expect(Math.max(...batches)).toBeLessThanOrEqual(10)
        expect(
          fake
            .messages(names.queue)
            .map((m) => JSON.parse(m.body).leadId)
            .sort()
        ).toEqual([...ids].sort())
      })
    )
  )

  it.live("the fake refuses what SQS refuses: 11 entries, 256 KiB, an unknown queue (real error names)", () =>
    withQueue((fake) =>
      Effect.gen(function* () {
        const client = new SQSClient(clientConfig(fake))
        const url = `${fake.url}/123456789012/leads`
        const entries = (n: number, size = 10) =>
          Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: "x".repeat(size) }))
        const errorOf = (input: ConstructorParameters<typeof SendMessageBatchCommand>[0]) =>
          Effect.promise(() =>
            client.send(new SendMessageBatchCommand(input)).then(
              () => "ok",
              (e: Error) => e.name
            )
          )
        expect(yield* errorOf({ QueueUrl: url, Entries: entries(11) })).toBe("TooManyEntriesInBatchRequest")
        expect(yield* errorOf({ QueueUrl: url, Entries: entries(2, 200 * 1024) })).toBe("BatchRequestTooLong")
        expect(yield* errorOf({ QueueUrl: `${fake.url}/123456789012/nope`, Entries: entries(1) })).toBe(
          "QueueDoesNotExist"
        )
        expect(yield* errorOf({ QueueUrl: url, Entries: entries(10) })).toBe("ok")
        client.destroy()
      })
    )
  )

  it.live(
    "settle: success acknowledges; a delay sends the job again for the retry-after and acknowledges; retries redrive to the DLQ; permanent moves it now",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          const queue = yield* JobQueue
          const sqs = yield* SqsQueue
          for (const leadId of ["ok", "delay", "retry", "permanent"]) yield* queue.enqueue({ leadId })
          const deadLettered: Array<[string, string]> = []
          const seen: Array<JobInfo> = []
          const run = {
            concurrency: 4,
            process: (job: JobInfo) =>
              Effect.suspend((): Effect.Effect<void, JobDelay | JobRetry | JobPermanent> => {
                seen.push(job)
                switch (job.leadId) {
                  case "delay":
                    return Effect.fail(new JobDelay({ delayMs: 90_000, reason: "rate limited" }))
                  case "retry":
                    return Effect.fail(new JobRetry({ reason: "CRM down" }))
                  case "permanent":
                    return Effect.fail(new JobPermanent({ reason: "CRM rejected the request" }))
                  default:
                    return Effect.void
                }
              }),
            onDeadLetter: (job: JobInfo, reason: string) =>
              Effect.sync(() => {
                deadLettered.push([job.leadId, reason])
              })
          }
          const first = yield* receiveAll(fake, names.queue)
          const failed = yield* sqs.settle(first, run)
          yield* acknowledge(fake, names.queue, first, failed)
          const idOf = (leadId: string) => first.find((r) => JSON.parse(r.body).leadId === leadId)?.messageId
          expect(failed).toEqual([idOf("retry")])
          expect(seen.map((job) => [job.leadId, job.attemptsMade, job.maxAttempts])).toContainEqual(["retry", 0, 3])
          // the delayed job is a fresh copy sent with a 90 s delay (its delivery acknowledged, no receive spent), the
          // retried message is hidden for the queue's 30 s
          const held = new Map(fake.messages(names.queue).map((m) => [JSON.parse(m.body).leadId, m]))
          expect(held.get("delay")?.visibleInMs).toBeGreaterThan(60_000)
          expect(held.get("delay")?.receiveCount).toBe(0)
          expect(held.get("delay")?.id).not.toBe(idOf("delay"))
          expect(held.get("retry")?.visibleInMs).toBeLessThanOrEqual(30_000)
          // permanent: the lead is dead-lettered and the job is in the DLQ at once
          expect(deadLettered).toEqual([["permanent", "CRM rejected the request"]])
          expect(fake.messages(names.dlq).map((m) => JSON.parse(m.body).leadId)).toEqual(["permanent"])

          // two more receives of "retry": on the third (maxReceiveCount) the lead is marked FAILED; then SQS redrives it
          for (let receive = 2; receive <= 3; receive++) {
            fake.advance(31_000)
            const batch = (yield* receiveAll(fake, names.queue)).filter((r) => JSON.parse(r.body).leadId === "retry")
            expect(batch.map((r) => r.receiveCount)).toEqual([receive])
            expect(yield* sqs.settle(batch, run)).toHaveLength(1)
          }
          expect(deadLettered.map(([leadId]) => leadId)).toEqual(["permanent", "retry"])
          fake.advance(31_000)
          expect((yield* receiveAll(fake, names.queue)).map((r) => JSON.parse(r.body).leadId)).toEqual(["delay"])
          expect(fake.messages(names.dlq).map((m) => JSON.parse(m.body).leadId)).toEqual(["permanent", "retry"])

          // the CLI's view: both dead letters, the permanent one with its reason; listing them changes nothing
          const letters = yield* queue.deadLetters(10)
          expect(letters.map((l) => l.leadId).sort()).toEqual(["permanent", "retry"])
          expect(letters.find((l) => l.leadId === "permanent")?.reason).toBe("CRM rejected the request")
          expect(letters.find((l) => l.leadId === "retry")?.reason).toMatch(/3 times/)
          expect((yield* queue.stats).failed).toBe(2)
          // replay: back on the queue, gone from the DLQ; a second replay finds nothing
          expect(yield* queue.replay("retry")).toBe(true)
          expect(yield* queue.replay("retry")).toBe(false)
          expect(fake.messages(names.dlq).map((m) => JSON.parse(m.body).leadId)).toEqual(["permanent"])
          expect(fake.messages(names.queue).map((m) => JSON.parse(m.body).leadId)).toContain("retry")
        })
      )
  )

  it.live("settle: a processor that throws instead of failing costs its own message a retry, not the batch", () =>
    withQueue((fake, names) =>
      Effect.gen(function* () {
        const queue = yield* JobQueue
        const sqs = yield* SqsQueue
        for (const leadId of ["ok", "throws"]) yield* queue.enqueue({ leadId })
        const records = yield* receiveAll(fake, names.queue)
        const failed = yield* sqs.settle(records, {
          concurrency: 2,
          process: (job) => {
            if (job.leadId === "throws") throw new Error("a bug in the processor")
            return Effect.void
          },
          onDeadLetter: () => Effect.void
        })
        // the batch answer lists the one that threw; the other is acknowledged as usual
        expect(failed).toEqual(records.filter((r) => JSON.parse(r.body).leadId === "throws").map((r) => r.messageId))
      })
    )
  )

  it.live("consume (the consumer program on SQS) long-polls, runs each job and deletes what succeeded", () =>
    withQueue((fake, names) =>
      Effect.gen(function* () {
        const queue = yield* JobQueue
        const done: Array<string> = []
        yield* queue.consume({
          concurrency: 2,
          process: (job) =>
            Effect.sync(() => {
              done.push(job.leadId)
            }),
          onDeadLetter: () => Effect.void
        })
        for (const leadId of ["a", "b", "c"]) yield* queue.enqueue({ leadId })
        yield* waitUntil("the queue is empty", () => fake.messages(names.queue).length === 0)
        expect([...done].sort()).toEqual(["a", "b", "c"])
        expect(fake.messages(names.queue)).toEqual([])
        expect(fake.operations()).toContain("DeleteMessage")
      }).pipe(Effect.scoped)
    )
  )

  it.live(
    "consume keeps a message hidden while its job outlasts the queue's visibility timeout: no other consumer gets it",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            // 5 s: five of the queue's visibility timeouts, and past the 3 s lease it was received on
            const { queue, runs, finished } = yield* consumeSlowly("5 seconds")
            yield* queue.enqueue({ leadId: "slow" })
            yield* Effect.sleep("4 seconds")
            // another consumer polling now finds nothing: the running job's message is still hidden, its lease renewed
            // (every second: a renewal up to 2 s late, as on a loaded machine, still holds it)
            expect(yield* receiveAll(fake, names.queue)).toEqual([])
            yield* Deferred.await(finished)
            yield* waitUntil("the finished job's message is deleted", () => fake.messages(names.queue).length === 0)
            expect(fake.messages(names.queue)).toEqual([])
            // and this consumer's own second slot did not take it again either
            expect(runs).toEqual(["slow"])
            expect(fake.operations()).toContain("ChangeMessageVisibility")
          }).pipe(Effect.scoped),
        { visibilityTimeoutS: 1, leaseSeconds: 3, waitTimeSeconds: 1 }
      ),
    20_000
  )

  it.live("consume: a slow job holds neither the other slots nor the deletion of the messages settled meanwhile", () =>
    withQueue(
      (fake, names) =>
        Effect.gen(function* () {
          const queue = yield* JobQueue
          const release = yield* Deferred.make<void>()
          const done: Array<string> = []
          yield* queue.consume({
            concurrency: 2,
            process: (job) =>
              (job.leadId === "slow" ? Deferred.await(release) : Effect.void).pipe(
                Effect.zipRight(Effect.sync(() => done.push(job.leadId)))
              ),
            onDeadLetter: () => Effect.void
          })
          yield* queue.enqueue({ leadId: "slow" })
          yield* waitUntil(
            "the slow job's message is received",
            () => fake.messages(names.queue)[0]?.receiveCount === 1
          )
          for (const leadId of ["fast-1", "fast-2", "fast-3"]) yield* queue.enqueue({ leadId })
          // with the slow job still running, the other slot takes the three in turn and each is deleted when done
          yield* waitUntil("only the slow job's message is left", () => fake.messages(names.queue).length === 1)
          expect(done).toEqual(["fast-1", "fast-2", "fast-3"])
          expect(fake.messages(names.queue).map((m) => JSON.parse(m.body).leadId)).toEqual(["slow"])
          yield* Deferred.succeed(release, undefined)
          yield* waitUntil("the queue is empty", () => fake.messages(names.queue).length === 0)
          expect(done).toEqual(["fast-1", "fast-2", "fast-3", "slow"])
          expect(fake.messages(names.queue)).toEqual([])
        }).pipe(Effect.scoped),
      { waitTimeSeconds: 1 }
    )
  )

  it.live(
    "consume: a job left to retry comes back after the queue's visibility timeout, not the lease's remainder",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            const queue = yield* JobQueue
            const tried = yield* Deferred.make<void>()
            yield* queue.consume({
              concurrency: 1,
              process: () =>
                Deferred.succeed(tried, undefined).pipe(Effect.zipRight(new JobRetry({ reason: "CRM down" }))),
              onDeadLetter: () => Effect.void
            })
            yield* queue.enqueue({ leadId: "retry" })
            yield* Deferred.await(tried)
            yield* waitUntil("the retry is hidden", () => fake.operations().includes("ChangeMessageVisibility"))
            const [message] = fake.messages(names.queue)
            // hidden for the queue's 300 s (as Lambda's poller leaves it), not the 30 s lease it was received on
            expect(message?.visibleInMs).toBeGreaterThan(200_000)
            expect(message?.receiveCount).toBe(1)
          }).pipe(Effect.scoped),
        { visibilityTimeoutS: 300, waitTimeSeconds: 1 }
      )
  )

  it.live("consume's scope closing (SIGTERM) stops receiving and lets a running job finish, its message deleted", () =>
    withQueue(
      (fake, names) =>
        Effect.gen(function* () {
          const queue = yield* JobQueue
          const started = yield* Deferred.make<void>()
          const done: Array<string> = []
          yield* Effect.scoped(
            Effect.gen(function* () {
              yield* queue.consume({
                concurrency: 2,
                process: (job) =>
                  Deferred.succeed(started, undefined).pipe(
                    Effect.zipRight(Effect.sleep("1 second")),
                    Effect.zipRight(Effect.sync(() => done.push(job.leadId)))
                  ),
                onDeadLetter: () => Effect.void
              })
              yield* queue.enqueue({ leadId: "in-flight" })
              yield* Deferred.await(started)
            })
          )
          // the scope closed with the job a second from done: it finished, and its message is gone
          expect(done).toEqual(["in-flight"])
          expect(fake.messages(names.queue)).toEqual([])
          // a job sent after the close is left for the next consumer
          yield* queue.enqueue({ leadId: "later" })
          yield* Effect.sleep("300 millis")
          expect(done).toEqual(["in-flight"])
          expect(fake.messages(names.queue).map((m) => JSON.parse(m.body).leadId)).toEqual(["later"])
        }),
      { waitTimeSeconds: 1, shutdownTimeoutMs: 5000 }
    )
  )

  it.live(
    "consume's close past SHUTDOWN_TIMEOUT_MS interrupts a job that never ends: the close ends on time, the job sent again at once",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            const queue = yield* JobQueue
            const started = yield* Deferred.make<void>()
            const closing = yield* Effect.scoped(
              Effect.gen(function* () {
                yield* queue.consume({
                  concurrency: 1,
                  process: () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)),
                  onDeadLetter: () => Effect.void
                })
                yield* queue.enqueue({ leadId: "stuck" })
                yield* Deferred.await(started)
                return Date.now()
              })
            )
            // 300 ms of grace, then the job is interrupted (the close waited for it forever before)
            expect(Date.now() - closing).toBeLessThan(5000)
            // not left hidden for what was left of its lease: the next consumer gets it now, as a fresh copy (the cut
            // run spent no receive toward maxReceiveCount)
            const [message, ...others] = fake.messages(names.queue)
            expect(others).toEqual([])
            expect(JSON.parse(message?.body ?? "{}").leadId).toBe("stuck")
            expect(message?.visibleInMs).toBe(0)
            expect(message?.receiveCount).toBe(0)
          }),
        { waitTimeSeconds: 1, shutdownTimeoutMs: 300 }
      ),
    20_000
  )

  it.live("consume: a failed read of the queue's attributes is not kept; the next job reads them again", () =>
    withQueue(
      (fake, names) =>
        Effect.gen(function* () {
          const queue = yield* JobQueue
          const hiddenFor = (leadId: string) =>
            fake.messages(names.queue).find((m) => JSON.parse(m.body).leadId === leadId)?.visibleInMs
          const retries = () => fake.operations().filter((operation) => operation === "ChangeMessageVisibility").length
          fake.fault("GetQueueAttributes", "error")
          yield* queue.consume({
            concurrency: 1,
            process: () => new JobRetry({ reason: "CRM down" }),
            onDeadLetter: () => Effect.void
          })
          yield* queue.enqueue({ leadId: "first" })
          yield* waitUntil("the first job's retry is hidden", () => retries() === 1)
          // the queue's attributes unread: SQS's default visibility timeout, 30 s
          expect(hiddenFor("first")).toBeLessThanOrEqual(30_000)
          fake.fault("GetQueueAttributes", undefined)
          yield* queue.enqueue({ leadId: "second" })
          yield* waitUntil("the second job's retry is hidden", () => retries() === 2)
          // read this time: the queue's own 300 s (the failed read's defaults had been kept for good before)
          expect(hiddenFor("second")).toBeGreaterThan(200_000)
          expect(fake.operations().filter((operation) => operation === "GetQueueAttributes").length).toBeGreaterThan(1)
        }).pipe(Effect.scoped),
      { visibilityTimeoutS: 300, waitTimeSeconds: 1 }
    )
  )

  it.live(
    "consume: a lease renewal that is never answered is abandoned in time, and the next one keeps the message hidden",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            // as over a half-open connection
            fake.fault("ChangeMessageVisibility", "hang")
            // 8 s: past the 6 s lease it was received on
            const { queue, runs, finished } = yield* consumeSlowly("8 seconds")
            yield* queue.enqueue({ leadId: "slow" })
            // the first renewal (2 s in) gets no answer; the ones after it do
            yield* waitUntil("a renewal is sent", () => fake.operations().includes("ChangeMessageVisibility"))
            fake.fault("ChangeMessageVisibility", undefined)
            yield* Deferred.await(finished)
            yield* waitUntil("the finished job's message is deleted", () => fake.messages(names.queue).length === 0)
            // the hung renewal stopped none after it: no other slot got the message while the job ran
            expect(runs).toEqual(["slow"])
          }).pipe(Effect.scoped),
        { visibilityTimeoutS: 1, leaseSeconds: 6, waitTimeSeconds: 1 }
      ),
    30_000
  )

  it.live(
    "consume: a lease SQS no longer takes (ReceiptHandleIsInvalid: the message received again elsewhere) is not renewed again, and one warning says so",
    () =>
      withQueue(
        (fake, names) =>
          whileJobRuns(fake, "stalled", ({ lines, renewals }) =>
            Effect.gen(function* () {
              // this consumer stalled past its lease (a paused container, a long GC): the message went to another
              // consumer, and this receive's handle is dead
              fake.advance(10_000)
              const [other] = yield* receiveAll(fake, names.queue)
              expect(other?.receiveCount).toBe(2)
              const before = renewals()
              // three renewal periods (1 s each)
              yield* Effect.sleep("3500 millis")
              // at most the one renewal that learnt it (SQS answered ReceiptHandleIsInvalid); before, one a second
              expect(renewals() - before).toBeLessThanOrEqual(1)
              const gone = withMessage(
                lines,
                "the SQS message's receipt handle is no longer valid (deleted or received again since); its lease is no longer renewed"
              )
              expect(gone).toHaveLength(1)
              expect(gone[0]).toContain("ReceiptHandleIsInvalid")
              expect(withMessage(lines, "could not renew the lease on an SQS message in flight")).toEqual([])
            })
          ),
        { leaseSeconds: 3, waitTimeSeconds: 1 }
      ),
    20_000
  )

  it.live(
    "consume: a message deleted while its job runs (a purge) stops its lease renewals at the first refusal",
    () =>
      withQueue(
        (fake) =>
          whileJobRuns(fake, "purged", ({ lines, renewals }) =>
            Effect.gen(function* () {
              fake.purge("leads")
              yield* waitUntil("a renewal is refused", () =>
                lines.some((line) => line.includes("receipt handle is no longer valid"))
              )
              const after = renewals()
              yield* Effect.sleep("2500 millis")
              expect(renewals()).toBe(after)
              expect(lines.filter((line) => line.includes("receipt handle is no longer valid"))).toHaveLength(1)
            })
          ),
        { leaseSeconds: 3, waitTimeSeconds: 1 }
      ),
    20_000
  )

  it.live("an unreadable body is not retried: it goes to the DLQ and the delivery is acknowledged", () =>
    withQueue((fake, names) =>
      Effect.gen(function* () {
        const sqs = yield* SqsQueue
        const failed = yield* sqs.settle(
          [{ messageId: "m-1", receiptHandle: "unused", body: "not json", receiveCount: 1 }],
          { concurrency: 1, process: () => Effect.void, onDeadLetter: () => Effect.void }
        )
        expect(failed).toEqual([])
        expect(fake.messages(names.dlq).map((m) => JSON.parse(m.body).reason)).toEqual(["invalid job payload"])
      })
    )
  )

  it.live("an unreadable message's dead letter keeps its body and message id; on a FIFO DLQ each is its own", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeSqs
      const { url, dlqUrl } = fake.createQueue("leads.fifo", {
        deadLetter: { name: "leads-dlq.fifo", maxReceiveCount: 3 }
      })
      const sqs = yield* Effect.provide(
        SqsQueue,
        sqsLayer({ queueUrl: url, deadLetterQueueUrl: dlqUrl, attempts: 5 }, clientConfig(fake))
      )
      const records = ["not json", '{"lead":"x"}', "x".repeat(70 * 1024)].map((body, i) => ({
        messageId: `m-${i}`,
        receiptHandle: `r-${i}`,
        body,
        receiveCount: 1
      }))
      const failed = yield* sqs.settle(records, {
        concurrency: 1,
        process: () => Effect.void,
        onDeadLetter: () => Effect.void
      })
      expect(failed).toEqual([])
      const letters = fake.messages("leads-dlq.fifo").map((m) => JSON.parse(m.body))
      expect(letters.map((l) => [l.messageId, l.reason, l.leadId])).toEqual([
        ["m-0", "invalid job payload", "unknown"],
        ["m-1", "invalid job payload", "unknown"],
        ["m-2", "invalid job payload", "unknown"]
      ])
      expect(letters[0].body).toBe("not json")
      expect(letters[1].body).toBe('{"lead":"x"}')
      // a body too large to keep whole is cut, and says so
      expect([letters[2].body.length, letters[2].bodyCut]).toEqual([64 * 1024, true])
    }).pipe(Effect.scoped)
  )

  it.live("without SQS_DLQ_URL nothing is deleted as if dead-lettered: an unreadable message is left to redrive", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeSqs
      const { url } = fake.createQueue("leads", { deadLetter: { name: "leads-dlq", maxReceiveCount: 3 } })
      const sqs = yield* Effect.provide(SqsQueue, sqsLayer({ queueUrl: url, attempts: 5 }, clientConfig(fake)))
      const deadLettered: Array<string> = []
      const failed = yield* sqs.settle(
        [
          { messageId: "m-unreadable", receiptHandle: "r-1", body: "not json", receiveCount: 1 },
          { messageId: "m-refused", receiptHandle: "r-2", body: '{"leadId":"lead-9"}', receiveCount: 1 }
        ],
        {
          concurrency: 1,
          process: () => Effect.fail(new JobPermanent({ reason: "CRM refused it" })),
          onDeadLetter: (job) => Effect.sync(() => void deadLettered.push(job.leadId))
        }
      )
      // listed: the queue's redrive policy moves it to its dead-letter queue after maxReceiveCount receives
      expect(failed).toEqual(["m-unreadable"])
      // a permanent failure still marks the lead FAILED (it can be replayed from the store)
      expect(deadLettered).toEqual(["lead-9"])
    }).pipe(Effect.scoped)
  )

  // On the test clock (the memory store's ages follow Effect's Clock; the SQS calls wait on nothing but the fake), so
  // the period is SWEEP_RESEND_MIN_AGE_MS's default hour and its edge is checked to the millisecond.
  it.effect(
    "the outbox sweep on SQS sends a lead already sent again only after SWEEP_RESEND_MIN_AGE_MS, once per period",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          const store = yield* LeadStore
          for (let i = 0; i < 3; i++) {
            yield* store.accept({ leadKey: newLeadKey(), source: "api", lead: sampleLead() })
          }
          const period = 60 * 60 * 1000
          const sweep = sweepOnce({ minAgeMs: 0, resendMinAgeMs: period })
          // RECEIVED: sent at once (their enqueue after the 202 may have failed)
          expect(yield* sweep).toBe(3)
          // QUEUED now: sweeps within the period send nothing (SQS would hold a second message per lead)
          expect(yield* sweep).toBe(0)
          yield* TestClock.adjust(period - 1)
          expect(yield* sweep).toBe(0)
          expect(fake.messages(names.queue)).toHaveLength(3)
          yield* TestClock.adjust(1)
          // a lead still waiting after the period: one more message each, and the period starts over
          expect(yield* sweep).toBe(3)
          expect(yield* sweep).toBe(0)
          yield* TestClock.adjust(period - 1)
          expect(yield* sweep).toBe(0)
          expect(fake.messages(names.queue)).toHaveLength(6)
          expect((yield* store.countByStatus).QUEUED).toBe(3)
        }).pipe(Effect.provide(memoryLeadStore))
      )
  )
})
