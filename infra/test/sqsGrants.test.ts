import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { beforeAll, describe, expect, it } from "vitest"
import { make as makeSqsQueue, type SqsRecord } from "../../layers/sqs/JobQueue.js"
import { type JobInfo, JobDelay, JobPermanent, JobRetry } from "../../services/JobQueue.js"
import { type FakeSqs, makeFakeSqs } from "../../test/fakes/sqs.js"
import {
  asList,
  logicalId,
  ofType,
  type Resources,
  roleStatements,
  type Statement,
  statements,
  synth,
  SYNTH_TIMEOUT_MS,
  synthServerless
} from "./synth.js"

/**
 * Each Lambda handler's SQS calls, made by the code that makes them (layers/sqs/JobQueue.ts) against a strict fake
 * SQS, through a client that refuses, as IAM would, any call its function's synthesized role does not allow. A call
 * added to the queue's code without a grant in functions.ts fails here; so does a JobQueue method no handler is
 * known to use or not to use.
 */

/** The actions IAM checks for an SQS API call: the batch calls are authorised as their single form. */
const iamAction = (operation: string) => `sqs:${operation.replace(/Batch$/, "")}`

/** The fake's queues, by the names the template's queues have (QueuesJobs*, QueuesDeadLetters*). */
const QUEUES = { jobs: "QueuesJobs", "dead-letters": "QueuesDeadLetters" } as const
type QueueName = keyof typeof QUEUES

interface Call {
  readonly action: string
  readonly queue: string
  readonly allowed: boolean
}

const allows = (resources: Resources, role: ReadonlyArray<Statement>, action: string, queue: QueueName) => {
  const arn = JSON.stringify({ "Fn::GetAtt": [logicalId(resources, "AWS::SQS::Queue", QUEUES[queue]), "Arn"] })
  const matches = (pattern: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(action)
  return role.some(
    (s) =>
      s.Effect === "Allow" &&
      asList(s.Action).some(matches) &&
      asList(s.Resource).some((resource) => JSON.stringify(resource) === arn)
  )
}

const credentials = { accessKeyId: "AKIAFAKESQSTEST", secretAccessKey: "fake-secret" }
const clientConfig = (fake: FakeSqs) => ({ endpoint: fake.url, region: "eu-west-1", credentials })

/** Every call `client` makes is checked against `role` first: refused (AccessDenied, as SQS answers) or passed on. */
const enforce = (client: SQSClient, check: (action: string, queue: QueueName) => boolean, calls: Array<Call>) =>
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const action = iamAction(String(context.commandName).replace(/Command$/, ""))
      const queue = String((args.input as { QueueUrl?: unknown }).QueueUrl ?? "")
        .split("/")
        .pop() as QueueName
      const allowed = queue in QUEUES && check(action, queue)
      calls.push({ action, queue, allowed })
      if (!allowed) {
        throw Object.assign(new Error(`not authorized to perform ${action} on ${queue} (the role's policy)`), {
          name: "AccessDenied"
        })
      }
      return next(args)
    },
    { step: "initialize", name: "roleOfTheFunction" }
  )

/** The fake SQS with the stack's two queues, the JobQueue of a function whose role is `fn`'s, and its calls. */
const withFunction = <A>(
  resources: Resources,
  fn: "Ingest" | "Consumer" | "Sweep" | "Migrate",
  body: (env: {
    readonly queue: Effect.Effect.Success<ReturnType<typeof makeSqsQueue>>
    readonly fake: FakeSqs
    readonly calls: ReadonlyArray<Call>
    /** A client with the same role (Lambda's poller, for the consumer, uses the function's role). */
    readonly asFunction: SQSClient
    /** A client with every right, to set the queues up as the other programs would have. */
    readonly admin: SQSClient
    readonly url: (queue: QueueName) => string
  }) => Effect.Effect<A, unknown, Scope.Scope>
) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeSqs
    const { url, dlqUrl } = fake.createQueue("jobs", {
      deadLetter: { name: "dead-letters", maxReceiveCount: 50 },
      visibilityTimeoutS: 361
    })
    const role = roleStatements(resources, `Functions${fn}Role`)
    const calls: Array<Call> = []
    const check = (action: string, queue: QueueName) => allows(resources, role, action, queue)
    const queue = yield* makeSqsQueue({ queueUrl: url, deadLetterQueueUrl: dlqUrl }, clientConfig(fake))
    enforce(queue.client, check, calls)
    const client = () =>
      Effect.acquireRelease(
        Effect.sync(() => new SQSClient(clientConfig(fake))),
        (c) => Effect.sync(() => c.destroy())
      )
    const asFunction = yield* client()
    enforce(asFunction, check, calls)
    const admin = yield* client()
    return yield* body({
      queue,
      fake,
      calls,
      asFunction,
      admin,
      url: (name) => (name === "jobs" ? url : dlqUrl!)
    })
  }).pipe(Effect.scoped, Effect.runPromise)

const denied = (calls: ReadonlyArray<Call>) => calls.filter((call) => !call.allowed)

/** What the JobQueue on SQS offers: the handlers' use of each is classified below (a new member fails the test). */
const NOT_A_CALL = ["client", "options", "sendsDuplicates"]
const USED_BY = {
  // the HTTP API's JobQueue (src/lambda/ingest.ts): accept, the replay route and a resubmission, /readyz, /ops/state
  Ingest: ["enqueue", "replay", "stats", "deadLetters"],
  // sweepOnce (src/lambda/sweep.ts): enqueue only, as SQS keeps no finished jobs (no finishedJobs, no replay)
  Sweep: ["enqueue"],
  // the consumer handler (src/lambda/consumer.ts): settle; Lambda's poller receives and deletes
  Consumer: ["settle"],
  // not used by any Lambda handler: the consumer program's polling loop
  none: ["consume"]
}

describe("each Lambda handler's SQS calls are allowed by its role", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  beforeAll(() => {
    resources = synthServerless().resources
  }, SYNTH_TIMEOUT_MS)

  it("knows, for every member of the SQS JobQueue, which handlers call it", () =>
    withFunction(resources, "Sweep", ({ queue }) =>
      Effect.sync(() => {
        const members = Object.keys(queue).filter((key) => !NOT_A_CALL.includes(key))
        expect(members.sort()).toEqual([...new Set(Object.values(USED_BY).flat())].sort())
      })
    ))

  it("ingest: enqueues, counts both queues, lists and replays a dead letter (POST /leads/{id}/replay)", () =>
    withFunction(resources, "Ingest", ({ queue, fake, calls, admin, url }) =>
      Effect.gen(function* () {
        // two dead letters, as the consumer moves them
        for (const leadId of ["lead-failed", "lead-other"]) {
          yield* Effect.promise(() =>
            admin.send(
              new SendMessageCommand({
                QueueUrl: url("dead-letters"),
                MessageBody: JSON.stringify({ leadId, reason: "CRM refused", attemptsMade: 50, failedAt: 1 })
              })
            )
          )
        }
        yield* queue.enqueue({ leadId: "lead-new" })
        // /readyz and /ops/state: the DLQ's count is the "failed" figure
        expect(yield* queue.stats).toMatchObject({ waiting: 1, failed: 2 })
        expect((yield* queue.deadLetters(10)).map((letter) => letter.leadId).sort()).toEqual([
          "lead-failed",
          "lead-other"
        ])
        expect(yield* queue.replay("lead-failed")).toBe(true)
        expect(yield* queue.replay("lead-unknown")).toBe(false)
        expect(denied(calls)).toEqual([])
        expect(new Set(calls.map((c) => `${c.action} ${c.queue}`))).toEqual(
          new Set([
            "sqs:SendMessage jobs",
            "sqs:GetQueueAttributes jobs",
            "sqs:GetQueueAttributes dead-letters",
            "sqs:ReceiveMessage dead-letters",
            "sqs:ChangeMessageVisibility dead-letters",
            "sqs:DeleteMessage dead-letters"
          ])
        )
        // the replayed lead is queued again, the other letter stays and is visible again at once
        expect(fake.messages("jobs").map((m) => JSON.parse(m.body).leadId)).toEqual(["lead-new", "lead-failed"])
        expect(fake.messages("dead-letters").map((m) => [JSON.parse(m.body).leadId, m.visibleInMs])).toEqual([
          ["lead-other", 0]
        ])
      })
    ))

  it.each(["Sweep", "Migrate"] as const)("%s: enqueues (the outbox sweep), one lead or a batch", (fn) =>
    withFunction(resources, fn, ({ queue, fake, calls }) =>
      Effect.gen(function* () {
        yield* Effect.forEach(["a", "b", "c"], (leadId) => queue.enqueue({ leadId }), {
          concurrency: "unbounded",
          discard: true
        })
        expect(denied(calls)).toEqual([])
        expect(fake.messages("jobs")).toHaveLength(3)
      })
    )
  )

  it("consumer: Lambda's poller receives and deletes; the handler sends a delayed job again, reads the redrive policy, dead-letters", () =>
    withFunction(resources, "Consumer", ({ queue, fake, calls, admin, asFunction, url }) =>
      Effect.gen(function* () {
        for (const body of ["done", "delay", "retry", "permanent"].map((leadId) => JSON.stringify({ leadId })))
          yield* Effect.promise(() => admin.send(new SendMessageCommand({ QueueUrl: url("jobs"), MessageBody: body })))
        yield* Effect.promise(() => admin.send(new SendMessageCommand({ QueueUrl: url("jobs"), MessageBody: "{oops" })))
        const received = yield* Effect.promise(() =>
          asFunction.send(
            new ReceiveMessageCommand({
              QueueUrl: url("jobs"),
              MaxNumberOfMessages: 10,
              MessageSystemAttributeNames: ["ApproximateReceiveCount"]
            })
          )
        )
        const records: Array<SqsRecord> = (received.Messages ?? []).map((m) => ({
          messageId: m.MessageId!,
          receiptHandle: m.ReceiptHandle!,
          body: m.Body!,
          // the retried job is on its last receive: its lead is marked FAILED before the redrive moves it
          receiveCount: m.Body!.includes("retry") ? 50 : Number(m.Attributes?.ApproximateReceiveCount)
        }))
        expect(records).toHaveLength(5)
        const fates: Record<string, Effect.Effect<void, JobDelay | JobRetry | JobPermanent>> = {
          done: Effect.void,
          delay: Effect.fail(new JobDelay({ delayMs: 30_000, reason: "rate limited" })),
          retry: Effect.fail(new JobRetry({ reason: "CRM 503" })),
          permanent: Effect.fail(new JobPermanent({ reason: "CRM 400" }))
        }
        const deadLettered: Array<string> = []
        const failed = yield* queue.settle(records, {
          concurrency: 5,
          process: (job: JobInfo) => fates[job.leadId]!,
          onDeadLetter: (job) => Effect.sync(() => deadLettered.push(job.leadId))
        })
        const idOf = (body: string) => records.find((r) => r.body.includes(body))!.messageId
        // the delayed job is sent again as a fresh message and its delivery acknowledged (no receive spent)
        expect([...failed]).toEqual([idOf("retry")])
        expect(deadLettered.sort()).toEqual(["permanent", "retry"])
        // what the poller does with the answer: deletes the rest
        for (const record of records.filter((r) => !failed.includes(r.messageId)))
          yield* Effect.promise(() =>
            asFunction.send(new DeleteMessageCommand({ QueueUrl: url("jobs"), ReceiptHandle: record.receiptHandle }))
          )
        expect(denied(calls)).toEqual([])
        expect(new Set(calls.map((c) => `${c.action} ${c.queue}`))).toEqual(
          new Set([
            "sqs:ReceiveMessage jobs",
            "sqs:DeleteMessage jobs",
            "sqs:GetQueueAttributes jobs",
            "sqs:SendMessage jobs",
            "sqs:SendMessage dead-letters"
          ])
        )
        expect(
          fake
            .messages("jobs")
            .map((m) => JSON.parse(m.body).leadId)
            .sort()
        ).toEqual(["delay", "retry"])
        expect(
          fake
            .messages("dead-letters")
            .map((m) => JSON.parse(m.body).reason)
            .sort()
        ).toEqual(["CRM 400", "invalid job payload"])
        const delayed = fake.messages("jobs").find((m) => m.body.includes("delay"))!
        expect(delayed.visibleInMs).toBeGreaterThan(25_000)
      })
    ))

  it("the Fargate stack uses no SQS: BullMQ on Redis, no queue, no sqs: action, no SQS setting", () => {
    const fargate = synth().resources
    expect(ofType(fargate, "AWS::SQS::Queue")).toEqual([])
    expect(
      statements(fargate).filter(({ statement }) => asList(statement.Action).some((a) => a.startsWith("sqs:")))
    ).toEqual([])
    expect(JSON.stringify(fargate)).not.toMatch(/QUEUE_BACKEND|SQS_QUEUE_URL|SQS_DLQ_URL/)
  })
})
