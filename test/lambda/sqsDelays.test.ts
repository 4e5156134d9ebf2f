import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { SqsQueue, type SqsOptions, layer as sqsLayer } from "../../layers/sqs/JobQueue.js"
import { NOT_STARTED_REASON } from "../../layers/sqs/SqsQueue.js"
import { type JobFate, JobDelay, type JobInfo, JobPermanent, JobQueue, JobRetry } from "../../services/JobQueue.js"
import { type FakeSqs, makeFakeSqs } from "../fakes/sqs.js"
import { makeLogCapture } from "../support/logCapture.js"
import { waitUntil } from "../support/poll.js"

/**
 * Delays on the SQS queue (rate limited, breaker open, store failing over, a claim held): they spend no attempt and
 * never lead to the redrive, while attempts spent on real failures stay bounded; and FIFO queues, which take no
 * per-message delay and deduplicate by the send's deduplication id for 5 minutes.
 */

const clientConfig = (fake: FakeSqs) => ({
  endpoint: fake.url,
  region: "eu-west-1",
  credentials: { accessKeyId: "AKIAFAKESQSDELAYS", secretAccessKey: "fake-secret" }
})

/**
 * A queue `leads` (`leads.fifo` when `fifo`) with its DLQ (maxReceiveCount 3 unless `maxReceiveCount`), and the SQS
 * layer pointed at it.
 */
const withQueue = <A, E>(
  body: (fake: FakeSqs, names: { queue: string; dlq: string }) => Effect.Effect<A, E, JobQueue | SqsQueue>,
  {
    fifo = false,
    maxReceiveCount = 3,
    ...sqsOptions
  }: { fifo?: boolean; maxReceiveCount?: number } & Partial<SqsOptions> = {}
) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeSqs
    const suffix = fifo ? ".fifo" : ""
    const names = { queue: `leads${suffix}`, dlq: `leads-dlq${suffix}` }
    const { url, dlqUrl } = fake.createQueue(names.queue, {
      deadLetter: { name: names.dlq, maxReceiveCount },
      visibilityTimeoutS: 30
    })
    return yield* body(fake, names).pipe(
      Effect.provide(
        sqsLayer({ queueUrl: url, deadLetterQueueUrl: dlqUrl, attempts: 5, ...sqsOptions }, clientConfig(fake))
      )
    )
  }).pipe(Effect.scoped)

/** What a test sees of its jobs: each run (its attempts already spent), and the dead letters handed to the store. */
const record = {
  runs: [] as Array<number>,
  deadLettered: [] as Array<{ attemptsMade: number; reason: string }>,
  onDeadLetter: (job: JobInfo, reason: string) =>
    Effect.sync(() => {
      record.deadLettered.push({ attemptsMade: job.attemptsMade, reason })
    }),
  reset: () => {
    record.runs = []
    record.deadLettered = []
  }
}

/** Lambda's poller, once: receive what is visible, settle it as the consumer does, delete what was not listed. */
const pollOnce = (
  fake: FakeSqs,
  name: string,
  run: Pick<Parameters<SqsQueue.Service["settle"]>[1], "process" | "holdUntil">
) =>
  Effect.gen(function* () {
    const sqs = yield* SqsQueue
    const client = new SQSClient(clientConfig(fake))
    const url = `${fake.url}/123456789012/${name}`
    const out = yield* Effect.promise(() =>
      client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ["ApproximateReceiveCount"]
        })
      )
    )
    const records = (out.Messages ?? []).map((m) => ({
      messageId: m.MessageId ?? "",
      receiptHandle: m.ReceiptHandle ?? "",
      body: m.Body ?? "",
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1)
    }))
    const failed = yield* sqs.settle(records, { concurrency: 4, onDeadLetter: record.onDeadLetter, ...run })
    for (const r of records.filter((r) => !failed.includes(r.messageId))) {
      yield* Effect.promise(() =>
        client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: r.receiptHandle }))
      )
    }
    client.destroy()
    return { received: records.map((r) => r.receiveCount), failed: failed.length }
  })

/** A processor that answers each run with the next of `fates` (`"ok"`: success), noting the run's attemptsMade. */
const scripted = (fates: ReadonlyArray<JobFate | "ok">) => {
  let run = 0
  return (job: JobInfo): Effect.Effect<void, JobFate> =>
    Effect.suspend(() => {
      record.runs.push(job.attemptsMade)
      const fate = fates[run++] ?? "ok"
      return fate === "ok" ? Effect.void : Effect.fail(fate)
    })
}

const delay = (ms: number) => new JobDelay({ delayMs: ms, reason: "RateLimited: CRM quota" })
const retry = new JobRetry({ reason: "CrmTransientError: CRM down" })

const bodies = (fake: FakeSqs, name: string) => fake.messages(name).map((m) => JSON.parse(m.body))

describe("SQS: a delay spends no receive", () => {
  it.live(
    "a run of delays longer than maxReceiveCount never reaches the DLQ: each is a fresh copy, then the job runs",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          record.reset()
          const queue = yield* JobQueue
          yield* queue.enqueue({ leadId: "lead-1" })
          const process = scripted([delay(2000), delay(2000), delay(2000), delay(2000), delay(2000)])
          for (let i = 0; i < 5; i++) {
            // every delivery is a first receive: the delayed one was acknowledged and its job sent again
            expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 0 })
            const [copy, ...others] = fake.messages(names.queue)
            expect(others).toEqual([])
            expect(copy?.receiveCount).toBe(0)
            expect(copy?.visibleInMs).toBeGreaterThan(1000)
            expect(copy?.visibleInMs).toBeLessThanOrEqual(2000)
            fake.advance(2000)
          }
          expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 0 })
          // six runs, none of them spending an attempt; nothing dead-lettered, nothing left
          expect(record.runs).toEqual([0, 0, 0, 0, 0, 0])
          expect(record.deadLettered).toEqual([])
          expect(fake.messages(names.dlq)).toEqual([])
          expect(fake.messages(names.queue)).toEqual([])
        })
      )
  )

  it.live(
    "delays between real failures: the lead is dead-lettered on its third failure (maxReceiveCount 3), not before",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          record.reset()
          const queue = yield* JobQueue
          yield* queue.enqueue({
            leadId: "lead-2",
            traceContext: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
          })
          const process = scripted([retry, delay(1000), retry, delay(1000), retry])
          for (let run = 0; run < 5; run++) {
            yield* pollOnce(fake, names.queue, { process })
            // past a retry's visibility timeout, or a delay
            fake.advance(31_000)
          }
          // the attempts each run had spent: the delays spent none
          expect(record.runs).toEqual([0, 1, 1, 2, 2])
          expect(record.deadLettered).toEqual([{ attemptsMade: 3, reason: "CrmTransientError: CRM down" }])
          // the job is in the DLQ with its reason and its trace context (replayable), and no longer in the queue
          expect(bodies(fake, names.dlq)).toEqual([
            expect.objectContaining({
              leadId: "lead-2",
              traceContext: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
              reason: "CrmTransientError: CRM down",
              attemptsMade: 3
            })
          ])
          expect(bodies(fake, names.dlq)[0]).not.toHaveProperty("priorAttempts")
          expect(fake.messages(names.queue)).toEqual([])
        })
      )
  )

  it.live(
    "when the job cannot be sent again, its delivery is hidden instead; on its last receive the lead is FAILED",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          record.reset()
          const queue = yield* JobQueue
          yield* queue.enqueue({ leadId: "lead-3" })
          fake.fault("SendMessage", "error")
          const process = scripted([delay(60_000), delay(60_000), delay(60_000)])
          for (let receive = 1; receive <= 3; receive++) {
            expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [receive], failed: 1 })
            // today's fallback: hidden for the retry-after, which costs that receive
            expect(fake.messages(names.queue).map((m) => m.visibleInMs > 50_000)).toEqual([true])
            // the redrive will move it after the last receive: only then is the lead marked FAILED (replayable)
            expect(record.deadLettered.length).toBe(receive === 3 ? 1 : 0)
            fake.advance(61_000)
          }
          expect(record.deadLettered[0]?.reason).toMatch(
            /^delayed on its last receive, and the job could not be sent again/
          )
          fake.fault("SendMessage", undefined)
        })
      )
  )

  it.live(
    "the consumer program: a delayed job is sent again and its delivery deleted, more times than maxReceiveCount",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            const queue = yield* JobQueue
            const process = scripted([delay(1), delay(1), delay(1), delay(1)])
            yield* queue.consume({ concurrency: 2, process, onDeadLetter: record.onDeadLetter })
            yield* queue.enqueue({ leadId: "lead-4" })
            yield* waitUntil("the job has run five times", () => record.runs.length === 5, { timeoutMs: 15_000 })
            yield* waitUntil("the queue is empty", () => fake.messages(names.queue).length === 0)
            expect(record.runs).toEqual([0, 0, 0, 0, 0])
            expect(record.deadLettered).toEqual([])
            expect(fake.messages(names.dlq)).toEqual([])
          }).pipe(Effect.scoped),
        { waitTimeSeconds: 1 }
      ),
    20_000
  )
})

describe("SQS: delays are bounded", () => {
  it.live(
    "a CRM Retry-After of a day: the job's copy waits 15 minutes (SQS's DelaySeconds ceiling), then asks again",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          record.reset()
          const queue = yield* JobQueue
          yield* queue.enqueue({ leadId: "lead-day" })
          const process = scripted([delay(24 * 60 * 60_000)])
          expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 0 })
          // one copy, delayed 15 minutes by SQS itself: no notBefore for its first receive to wait out (up to 12 h)
          const [copy] = fake.messages(names.queue)
          expect(copy?.visibleInMs).toBeGreaterThan(14 * 60_000)
          expect(copy?.visibleInMs).toBeLessThanOrEqual(15 * 60_000)
          expect(JSON.parse(copy?.body ?? "{}")).not.toHaveProperty("notBefore")
          fake.advance(15 * 60_000)
          // its first receive runs the job again (it may still be refused, and is then delayed again)
          expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 0 })
          expect(record.runs).toEqual([0, 0])
          expect(fake.messages(names.queue)).toEqual([])
        })
      )
  )

  /** Polls the queue every 15 minutes of test time, each run answering `fate(n)` (n: the run's index). */
  const pollEvery15Minutes = (
    fake: FakeSqs,
    queue: string,
    runs: number,
    fate: (n: number) => JobFate | "ok"
  ): Effect.Effect<void, never, SqsQueue> =>
    Effect.gen(function* () {
      const process = (job: JobInfo) =>
        Effect.suspend(() => {
          const answer = fate(record.runs.length)
          record.runs.push(job.attemptsMade)
          return answer === "ok" ? Effect.void : Effect.fail(answer)
        })
      for (let poll = 0; poll < runs && record.deadLettered.length === 0; poll++) {
        yield* pollOnce(fake, queue, { process })
        yield* TestClock.adjust("15 minutes")
        fake.advance(15 * 60_000)
      }
    })
  const storeWait = new JobDelay({ delayMs: 15 * 60_000, reason: "StoreUnavailable: connection refused" })

  // on the test clock: the bound is a day of store waits; the SQS calls wait on nothing but the fake
  it.effect(
    "a job waiting for the store for more than 24 hours spends an attempt on each further wait: it ends FAILED",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          record.reset()
          yield* Effect.flatMap(JobQueue, (queue) => queue.enqueue({ leadId: "lead-forever" }))
          // the database never comes back: every run is a store wait, but one a Lambda invocation did not start near
          // its deadline (it never reached the store: the clock goes on)
          const notStarted = new JobDelay({ delayMs: 0, reason: NOT_STARTED_REASON })
          yield* pollEvery15Minutes(fake, names.queue, 200, (n) => (n === 50 ? notStarted : storeWait))
          // a day of waits spent nothing (97 runs); then each wait is an attempt, and the third (maxReceiveCount 3)
          // marks the lead FAILED with the reason
          expect(record.runs.slice(0, 97)).toEqual(Array(97).fill(0))
          expect(record.runs.slice(97)).toEqual([0, 1, 2])
          expect(record.deadLettered).toEqual([
            {
              attemptsMade: 3,
              reason: "waited for the lead store for more than 24 hours: StoreUnavailable: connection refused"
            }
          ])
        })
      ),
    30_000
  )

  it.effect(
    "other delays are not bounded (a backlog drains at the limits' pace), and a run past the store starts the clock again",
    () =>
      withQueue((fake, names) =>
        Effect.gen(function* () {
          record.reset()
          yield* Effect.flatMap(JobQueue, (queue) => queue.enqueue({ leadId: "lead-backlog" }))
          // 20 hours of store waits, one rate-limit delay (the store answered), 20 hours of store waits again, then
          // 30 hours of rate-limit delays (a long import behind one account's limit), then the job runs
          const fate = (n: number): JobFate | "ok" =>
            n < 80
              ? storeWait
              : n === 80
                ? delay(15 * 60_000)
                : n < 161
                  ? storeWait
                  : n < 281
                    ? delay(15 * 60_000)
                    : "ok"
          yield* pollEvery15Minutes(fake, names.queue, 290, fate)
          expect(record.runs).toHaveLength(282)
          expect(record.runs.every((attempts) => attempts === 0)).toBe(true)
          expect(record.deadLettered).toEqual([])
          expect(fake.messages(names.queue)).toEqual([])
        })
      ),
    60_000
  )
})

describe("SQS FIFO queues", () => {
  it.live(
    "a delayed job's copy: no per-message delay (SQS refuses one), the lead's group, its first receive only waits",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            const queue = yield* JobQueue
            yield* queue.enqueue({ leadId: "lead-5" })
            const process = scripted([delay(5000), delay(5000), delay(5000), delay(5000)])
            for (let i = 0; i < 4; i++) {
              // the delivery runs and is delayed: its job is sent again, visible to a receive at once
              expect(yield* pollOnce(fake, names.queue, { process })).toEqual({
                received: [i === 0 ? 1 : 2],
                failed: 0
              })
              // that first receive runs nothing: it hides the copy until its time
              expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 1 })
              expect(fake.messages(names.queue).map((m) => m.visibleInMs > 3000)).toEqual([true])
              fake.advance(5000)
            }
            expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [2], failed: 0 })
            expect(record.runs).toEqual([0, 0, 0, 0, 0])
            expect(fake.messages(names.dlq)).toEqual([])
            expect(fake.messages(names.queue)).toEqual([])
            // every send in the lead's group, each with a deduplication id of its own
            const sends = fake.requests
              .filter((r) => r.headers["x-amz-target"] === "AmazonSQS.SendMessage")
              .map((r) => JSON.parse(r.body) as { MessageGroupId: string; MessageDeduplicationId: string })
            expect(sends.map((send) => send.MessageGroupId)).toEqual(Array(5).fill("lead-5"))
            expect(new Set(sends.map((send) => send.MessageDeduplicationId)).size).toBe(5)
          }),
        { fifo: true }
      )
  )

  it.live(
    "receives spent before attempts: a copy carries them on, and the third real failure dead-letters the lead",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            const queue = yield* JobQueue
            yield* queue.enqueue({ leadId: "lead-6" })
            const process = scripted([delay(1000), retry, retry, retry])
            for (let poll = 0; poll < 6; poll++) {
              yield* pollOnce(fake, names.queue, { process })
              fake.advance(31_000)
            }
            // the delay's copy waits once (its first receive), runs twice (its second and last receive): its third
            // receive is the last, so a second copy carries its two attempts on, and its first run is the last attempt
            expect(record.runs).toEqual([0, 0, 1, 2])
            expect(record.deadLettered).toEqual([{ attemptsMade: 3, reason: "CrmTransientError: CRM down" }])
            expect(bodies(fake, names.dlq)).toEqual([expect.objectContaining({ leadId: "lead-6", attemptsMade: 3 })])
            expect(fake.messages(names.queue)).toEqual([])
          }),
        { fifo: true }
      )
  )

  it.live("a replay, or a lead sent again, within 5 minutes of the last send is delivered, not deduplicated away", () =>
    withQueue(
      (fake, names) =>
        Effect.gen(function* () {
          record.reset()
          const queue = yield* JobQueue
          yield* queue.enqueue({ leadId: "lead-7" })
          const process = scripted([new JobPermanent({ reason: "CRM rejected the request" })])
          expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 0 })
          expect(bodies(fake, names.dlq).map((letter) => letter.leadId)).toEqual(["lead-7"])
          // a minute later: the replay leaves the DLQ, and the job arrives
          fake.advance(60_000)
          expect(yield* queue.replay("lead-7")).toBe(true)
          expect(fake.messages(names.dlq)).toEqual([])
          expect(bodies(fake, names.queue)).toEqual([{ leadId: "lead-7" }])
          // a lead sent again (the outbox sweep, an update) is a second message: the consumer takes a job twice
          yield* queue.enqueue({ leadId: "lead-7" })
          expect(bodies(fake, names.queue)).toEqual([{ leadId: "lead-7" }, { leadId: "lead-7" }])
        }),
      { fifo: true }
    )
  )

  it.live(
    "maxReceiveCount 1: a delayed job is neither run again before its time (no hot loop) nor dead-lettered",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            const queue = yield* JobQueue
            yield* queue.enqueue({ leadId: "lead-8" })
            const ranAt: Array<number> = []
            const script = scripted([delay(1000), delay(1000)])
            const process = (job: JobInfo) =>
              Effect.sync(() => ranAt.push(Date.now())).pipe(Effect.zipRight(script(job)))
            // Lambda's poller, as fast as it gets messages
            for (let poll = 0; poll < 8 && fake.messages(names.queue).length > 0; poll++) {
              yield* pollOnce(fake, names.queue, { process })
            }
            // three runs (delayed, delayed, done), each a second after the one before: the copies waited their time
            expect(record.runs).toEqual([0, 0, 0])
            const gaps = ranAt.slice(1).map((at, i) => at - (ranAt[i] ?? at))
            expect(
              gaps.every((gap) => gap >= 900),
              `gaps between runs: ${gaps.join(", ")} ms`
            ).toBe(true)
            // nothing dead-lettered: the single receive of each copy was never spent on a wait and then redriven
            expect(record.deadLettered).toEqual([])
            expect(fake.messages(names.dlq)).toEqual([])
            expect(fake.messages(names.queue)).toEqual([])
          }),
        { fifo: true, maxReceiveCount: 1 }
      ),
    20_000
  )

  it.effect(
    "maxReceiveCount 1: a copy whose time is more than 15 minutes ahead (an older release's) is held 15 minutes at most",
    () => {
      const logs = makeLogCapture()
      return withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            // another lead sent first: the queue has answered, and its maxReceiveCount is known
            yield* Effect.flatMap(JobQueue, (queue) => queue.enqueue({ leadId: "lead-new" }))
            const sqs = yield* SqsQueue
            const notBefore = (yield* Clock.currentTimeMillis) + 24 * 60 * 60_000
            const body = JSON.stringify({ leadId: "lead-old", notBefore })
            const settled = yield* Effect.fork(
              sqs.settle([{ messageId: "m-old", receiptHandle: "unused", body, receiveCount: 1 }], {
                concurrency: 1,
                process: scripted([]),
                onDeadLetter: record.onDeadLetter
              })
            )
            yield* TestClock.adjust("15 minutes")
            // let go after 15 minutes, not a day: passed on to a fresh copy that keeps its time, nothing run
            expect(yield* Fiber.join(settled)).toEqual([])
            // and said so, once: a FIFO queue wants a maxReceiveCount of 2 or more
            expect(logs.lines.filter((line) => line.includes("the FIFO queue's maxReceiveCount is 1"))).toHaveLength(1)
            expect(record.runs).toEqual([])
            expect(bodies(fake, names.queue).filter((job) => job.leadId === "lead-old")).toEqual([
              { leadId: "lead-old", notBefore }
            ])
          }).pipe(Effect.provide(logs.layer)),
        { fifo: true, maxReceiveCount: 1 }
      )
    }
  )

  it.live(
    "maxReceiveCount 1 on Lambda: a copy whose time is past the invocation's hold is passed on once, its time kept",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            const queue = yield* JobQueue
            yield* queue.enqueue({ leadId: "lead-10" })
            const process = scripted([delay(60_000)])
            expect(yield* pollOnce(fake, names.queue, { process })).toEqual({ received: [1], failed: 0 })
            const [copy] = bodies(fake, names.queue)
            // the next invocation may hold it for 300 ms: then it lets it go to a fresh copy with the same time
            const started = Date.now()
            expect(yield* pollOnce(fake, names.queue, { process, holdUntil: Date.now() + 300 })).toEqual({
              received: [1],
              failed: 0
            })
            expect(Date.now() - started).toBeGreaterThanOrEqual(280)
            expect(Date.now() - started).toBeLessThan(5000)
            expect(record.runs).toEqual([0])
            expect(bodies(fake, names.queue)).toEqual([copy])
            expect(fake.messages(names.queue).map((m) => m.receiveCount)).toEqual([0])
            expect(fake.messages(names.dlq)).toEqual([])
          }),
        { fifo: true, maxReceiveCount: 1 }
      ),
    20_000
  )

  it.live(
    "maxReceiveCount 1, the consumer program: a delayed job waits its time under its lease, then runs once more",
    () =>
      withQueue(
        (fake, names) =>
          Effect.gen(function* () {
            record.reset()
            const queue = yield* JobQueue
            const ranAt: Array<number> = []
            const script = scripted([delay(1500)])
            const process = (job: JobInfo) =>
              Effect.sync(() => ranAt.push(Date.now())).pipe(Effect.zipRight(script(job)))
            yield* queue.consume({ concurrency: 2, process, onDeadLetter: record.onDeadLetter })
            yield* queue.enqueue({ leadId: "lead-9" })
            yield* waitUntil("the job has run twice", () => record.runs.length === 2, { timeoutMs: 15_000 })
            yield* waitUntil("the queue is empty", () => fake.messages(names.queue).length === 0)
            expect(record.runs).toEqual([0, 0])
            expect((ranAt[1] ?? 0) - (ranAt[0] ?? 0)).toBeGreaterThanOrEqual(1400)
            expect(record.deadLettered).toEqual([])
            expect(fake.messages(names.dlq)).toEqual([])
          }).pipe(Effect.scoped),
        { fifo: true, maxReceiveCount: 1, waitTimeSeconds: 1, leaseSeconds: 3 }
      ),
    20_000
  )

  it.live(
    "the fake keeps FIFO rules as SQS does: group id required, deduplication for 5 minutes, no per-message delay, one in flight per group",
    () =>
      Effect.gen(function* () {
        const fake = yield* makeFakeSqs
        const { url } = fake.createQueue("rules.fifo")
        const client = new SQSClient(clientConfig(fake))
        const send = (input: Partial<ConstructorParameters<typeof SendMessageCommand>[0]>) =>
          Effect.promise(() =>
            client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "job", ...input })).then(
              (out) => out.MessageId ?? "",
              (e: Error) => `${e.name}: ${e.message}`
            )
          )
        expect(yield* send({ MessageDeduplicationId: "d-1" })).toMatch(/^MissingParameter: .*MessageGroupId/)
        const first = yield* send({ MessageGroupId: "g", MessageDeduplicationId: "d-1" })
        // the same deduplication id within 5 minutes: accepted, the first message's id answered, nothing added
        fake.advance(4 * 60_000)
        expect(yield* send({ MessageGroupId: "g", MessageDeduplicationId: "d-1" })).toBe(first)
        expect(fake.messages("rules.fifo")).toHaveLength(1)
        fake.advance(60_000)
        expect(yield* send({ MessageGroupId: "g", MessageDeduplicationId: "d-1" })).not.toBe(first)
        expect(yield* send({ MessageGroupId: "g", MessageDeduplicationId: "d-2", DelaySeconds: 5 })).toMatch(
          /^InvalidParameterValue: .*DelaySeconds is invalid.*not valid for this queue type/
        )
        expect(fake.messages("rules.fifo").map((m) => m.groupId)).toEqual(["g", "g"])
        // one of the group in flight: the other waits until it is deleted
        const receive = () =>
          Effect.promise(() => client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 })))
        const [head] = (yield* receive()).Messages ?? []
        expect((yield* receive()).Messages ?? []).toEqual([])
        yield* Effect.promise(() =>
          client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: head?.ReceiptHandle }))
        )
        expect(((yield* receive()).Messages ?? []).length).toBe(1)
        client.destroy()
      }).pipe(Effect.scoped)
  )
})
