import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import { gzipSync } from "node:zlib"
import { MAX_JSON_DEPTH } from "../../src/http/body.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { invalidUtf8, nested, overflowing, tooDeep } from "./bodies.js"
import { type Client, expectProblem, problemFields, servings, storedLeads, withApi } from "./harness.js"

const json = { "content-type": "application/json" }
const seedOf = () => Date.now() ^ (Math.random() * 0x7fffffff)

/** A valid lead body with `value` (raw JSON text) placed where `at` says. */
const leadWith = (at: "attribute" | "activity" | "extra" | "root", value: string) => {
  const base = JSON.stringify(sampleLead()).slice(0, -1)
  if (at === "attribute") return `${base},"attributes":{"deep":${value}}}`
  if (at === "activity")
    return `${JSON.stringify({ ...sampleLead(), activity: undefined }).slice(0, -1)},"activity":${value}}`
  if (at === "extra") return `${base},"extra":${value}}`
  return value
}

const places = FastCheck.constantFrom("attribute", "activity", "extra", "root") as FastCheck.Arbitrary<
  "attribute" | "activity" | "extra" | "root"
>

/** A lead body whose firstName holds `bad` between two runs of ordinary text. */
const withBytes = FastCheck.tuple(
  FastCheck.stringMatching(/^[A-Za-z ]{0,10}$/),
  invalidUtf8,
  FastCheck.stringMatching(/^[A-Za-z ]{0,10}$/)
).map(([before, bad, after]) => {
  const [head, tail] = JSON.stringify(sampleLead({ firstName: "@@" })).split("@@") as [string, string]
  return Buffer.concat([Buffer.from(head + before), Buffer.from(bad), Buffer.from(after + tail)])
})

const post = (api: Client, body: string | Buffer) => api.send("POST", "/leads", { headers: json, body })

describe.each(servings)("POST /leads body hardening (%s)", (_name, served) => {
  it.live(`JSON nested deeper than ${MAX_JSON_DEPTH} levels anywhere is a 400 naming the limit, never a 500`, () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const seed = seedOf()
          for (const [at, value] of FastCheck.sample(FastCheck.tuple(places, tooDeep), { numRuns: 40, seed })) {
            const body = leadWith(at, value)
            const reply = yield* post(api, body)
            const context = `seed ${seed}, ${at}, ${body.length} chars: ${reply.text}`
            expectProblem(reply, 400)
            expect(reply.json.detail, context).toContain(`${MAX_JSON_DEPTH} levels`)
          }
          // brackets inside strings (among escaped quotes and backslashes) are text, not nesting
          const brackets = yield* post(api, JSON.stringify(sampleLead({ attributes: { note: '[{"\\'.repeat(200) } })))
          expect(brackets.status, brackets.text).toBe(202)
          // exactly at the limit the body is parsed and decoded: the schema names the bad attribute
          const atLimit = yield* post(api, leadWith("attribute", nested(MAX_JSON_DEPTH - 2, [true])))
          expectProblem(atLimit, 400)
          expect([...new Set(problemFields(atLimit))]).toEqual(["attributes.deep"])
          expect(yield* storedLeads).toBe(1)
        }),
      served
    )
  )

  it.live("a body that is not valid UTF-8 is a 400, never silently repaired, and stores nothing", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const seed = seedOf()
          for (const body of FastCheck.sample(withBytes, { numRuns: 60, seed })) {
            const reply = yield* post(api, body)
            expectProblem(reply, 400)
            expect(reply.json.detail, `seed ${seed}, ${body.toString("hex")}`).toContain("UTF-8")
          }
          for (const bom of [
            [0xff, 0xfe],
            [0xfe, 0xff]
          ]) {
            const body = Buffer.concat([Buffer.from(bom), Buffer.from(JSON.stringify(sampleLead()))])
            expect((yield* post(api, body)).json.detail).toContain("UTF-8")
          }
          const utf8Bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(sampleLead()))])
          expect((yield* post(api, utf8Bom)).json.detail).toContain("byte order mark")
          expect(yield* storedLeads).toBe(0)
          // the same lead in valid UTF-8 is accepted as sent
          const zoe = yield* post(api, Buffer.from(JSON.stringify(sampleLead({ firstName: "Zoë 😀" }))))
          expect(zoe.status, zoe.text).toBe(202)
          expect(zoe.json.lead.firstName).toBe("Zoë 😀")
        }),
      served
    )
  )

  it.live("a key written twice in one object is a 400 naming it and where: which one was meant is unknown", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const base = JSON.stringify(sampleLead()).slice(0, -1)
          const twice = yield* post(api, `${base},"email":"someone.else@globex.com"}`)
          expectProblem(twice, 400)
          expect(twice.json.detail).toBe('The body names "email" twice in one object; name each key once')
          expect(twice.json.errors).toEqual([{ field: "(root)", message: 'has the key "email" more than once' }])
          const nested = yield* post(api, `${base},"extra":[0,{"pageViews":1,"pageViews":2}]}`)
          expectProblem(nested, 400)
          expect(problemFields(nested)).toEqual(["extra.1"])
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("a number out of range (1e309 is Infinity) is a 400 naming the field, never stored as null", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const seed = seedOf()
          const cases = FastCheck.tuple(FastCheck.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/), overflowing)
          for (const [key, literal] of FastCheck.sample(cases, { numRuns: 40, seed })) {
            const body = `${JSON.stringify(sampleLead()).slice(0, -1)},"attributes":{"${key}":${literal}}}`
            const reply = yield* post(api, body)
            expectProblem(reply, 400)
            expect(problemFields(reply), `seed ${seed}, ${body}: ${reply.text}`).toEqual([`attributes.${key}`])
          }
          expect(yield* storedLeads).toBe(0)
          const largest = yield* post(api, `${JSON.stringify(sampleLead()).slice(0, -1)},"attributes":{"n":1e308}}`)
          expect(largest.status, largest.text).toBe(202)
          expect(largest.json.lead.attributes).toEqual({ n: 1e308 })
        }),
      served
    )
  )
})

describe.each(servings)("POST /leads compressed in transfer (%s)", (_name, served) => {
  it.live("Transfer-Encoding: gzip, chunked is 415 naming it (not a 400 about UTF-8); chunked alone is read", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const body = JSON.stringify(sampleLead())
          const gzipped = yield* api.send("POST", "/leads", {
            headers: { ...json, "transfer-encoding": "gzip, chunked" },
            body: gzipSync(body),
            chunked: true
          })
          expectProblem(gzipped, 415)
          expect(gzipped.json.detail).toContain("Transfer-Encoding")
          expect(yield* storedLeads).toBe(0)
          const plain = yield* api.send("POST", "/leads", {
            headers: { ...json, "transfer-encoding": "Chunked" },
            body,
            chunked: true
          })
          expect(plain.status, plain.text).toBe(202)
        }),
      served
    )
  )
})
