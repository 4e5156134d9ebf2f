import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll } from "vitest"
import { disposeIngest, ingestHandler } from "../../src/lambda/ingest.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { httpEvent } from "./events.js"

/** A function deployed with a bad setting: every key named in one log line, 503 answers, and a fix needs no redeploy. */
const scope = Effect.runSync(Scope.make())

beforeAll(async () => {
  const schema = await Effect.runPromise(Scope.extend(testSchema, scope))
  Object.assign(process.env, {
    DATABASE_URL: testDatabaseUrl,
    DATABASE_SCHEMA: schema,
    SQS_QUEUE_URL: "leads",
    MAX_BODY_BYTES: "-1",
    AWS_REGION: "eu-west-1",
    LOG_LEVEL: "ERROR"
  })
  delete process.env.REDIS_URL
  delete process.env.QUEUE_BACKEND
})

afterAll(async () => {
  await disposeIngest()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const health = () => ingestHandler(httpEvent("http-api-v2", { method: "GET", path: "/healthz" }))

/** console.error's lines while `run` runs. */
const errorLines = <A>(run: () => Promise<A>) =>
  Effect.gen(function* () {
    const logged: Array<string> = []
    const original = console.error
    console.error = (...args: Array<unknown>) => {
      logged.push(args.map(String).join(" "))
    }
    const result = yield* Effect.promise(run).pipe(Effect.ensuring(Effect.sync(() => (console.error = original))))
    return { result, logged }
  })

describe("ingestHandler with a bad configuration", () => {
  it.live("says nothing at LOG_LEVEL=Off, as the programs do, and still answers 503", () =>
    Effect.gen(function* () {
      process.env.LOG_LEVEL = "off"
      const { result, logged } = yield* errorLines(health).pipe(
        Effect.ensuring(Effect.sync(() => (process.env.LOG_LEVEL = "ERROR")))
      )
      expect(result.statusCode).toBe(503)
      expect(logged).toEqual([])
    })
  )

  it.live("answers 503 problem+json, logs every bad key, and builds again once fixed, after its back-off", () =>
    Effect.gen(function* () {
      // a container of its own: the test before left one that failed moments ago
      yield* Effect.promise(disposeIngest)
      const { result: refused, logged } = yield* errorLines(health)
      expect(refused.statusCode).toBe(503)
      expect(refused.headers["content-type"]).toBe("application/problem+json")
      // a whole number of seconds (RFC 9110 §10.2.3: delay-seconds), which clients and SDKs wait before retrying
      expect(refused.headers["retry-after"]).toMatch(/^\d+$/)
      expect(logged.join("\n")).toMatch(/SQS_QUEUE_URL[\s\S]*MAX_BODY_BYTES|MAX_BODY_BYTES[\s\S]*SQS_QUEUE_URL/)
      // the same container, the settings fixed (e.g. a secret now readable): the next request is served
      process.env.SQS_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/leads"
      process.env.MAX_BODY_BYTES = "65536"
      // within 5 s of the failed build the container answers 503 at once, without building again
      const backingOff = yield* errorLines(health)
      expect(backingOff.result.statusCode).toBe(503)
      expect(backingOff.logged).toEqual([])
      // after it, the next request builds it again and is served
      const served = yield* Effect.promise(health).pipe(
        Effect.filterOrFail(
          (answer) => answer.statusCode === 200,
          () => new Error("not served yet")
        ),
        Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo("10 seconds")))
      )
      expect(JSON.parse(served.body)).toEqual({ status: "ok" })
    })
  )
})
