import { createServer } from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Ref from "effect/Ref"
import { prettyLogger } from "../../layers/observability/Logger.js"
import { banner } from "../../src/programs/banner.js"
import { configFrom, memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/** Every line the pretty logger (npm start's) would print, captured. */
const capture = Effect.gen(function* () {
  const lines = yield* Ref.make<ReadonlyArray<string>>([])
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.map(prettyLogger, (line) => Effect.runSync(Ref.update(lines, (all) => [...all, line])))
  )
  return { lines, logger }
})

describe("what the terminal says", () => {
  it.live("the start-up banner names every backend and where, and the URLs of the API, docs, console and metrics", () =>
    Effect.gen(function* () {
      const { lines, logger } = yield* capture
      yield* Layer.build(
        banner("RevenueFlow is running", { api: true, consumer: true }).pipe(
          Layer.provide(Layer.merge(configFrom({ PORT: "4010", DATA_DIR: "/srv/rf" }), logger))
        )
      )
      const text = (yield* Ref.get(lines)).join("\n")
      expect(text).toMatch(/database\s+embedded PGlite in \/srv\/rf\/pglite/)
      expect(text).toMatch(/queue\s+in-memory queue "lead-processing"/)
      expect(text).toMatch(/CRM\s+mock CRM/)
      expect(text).toMatch(/analyser\s+heuristic/)
      expect(text).toMatch(/enrichment\s+mock/)
      for (const url of ["http://localhost:4010 ", "http://localhost:4010/docs", "http://localhost:4010/console"]) {
        expect(text).toContain(url)
      }
      expect(text).toContain("http://localhost:4010/metrics")
    }).pipe(Effect.scoped)
  )

  it.live("with PORT=0 the banner gives the port the server was bound to, not 0", () =>
    Effect.gen(function* () {
      const { lines, logger } = yield* capture
      const served = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })
      const context = yield* Layer.build(
        banner("RevenueFlow ingest is running", { api: true, consumer: false }).pipe(
          Layer.provideMerge(Layer.mergeAll(configFrom({ PORT: "0", HOST: "127.0.0.1" }), logger, served))
        )
      )
      const address = (yield* Effect.provide(HttpServer.HttpServer, context)).address
      const port = address._tag === "TcpAddress" ? address.port : 0
      expect(port).toBeGreaterThan(0)
      const text = (yield* Ref.get(lines)).join("\n")
      expect(text).toContain(`http://127.0.0.1:${port}/docs`)
      expect(text).not.toContain("127.0.0.1:0")
    }).pipe(Effect.scoped)
  )

  it.live("the consumer's banner names its queue and says its port serves metrics and health only", () =>
    Effect.gen(function* () {
      const { lines, logger } = yield* capture
      const env = {
        METRICS_PORT: "9999",
        REDIS_URL: "redis://user:secret@cache.internal:6380",
        QUEUE_NAME: "leads-eu"
      }
      yield* Layer.build(
        banner("RevenueFlow consumer is running", { api: false, consumer: true }).pipe(
          Layer.provide(Layer.merge(configFrom(env), logger))
        )
      )
      const text = (yield* Ref.get(lines)).join("\n")
      expect(text).toContain('BullMQ queue "leads-eu" on Redis at cache.internal:6380')
      expect(text).toMatch(/:9999 serves metrics and health only/)
      expect(text).not.toContain("secret")
      expect(text).not.toContain("/console")
    }).pipe(Effect.scoped)
  )

  it.live("each finished lead is one line: id, status, decision, CRM actions and time", () =>
    Effect.gen(function* () {
      const { lines, logger } = yield* capture
      yield* Effect.gen(function* () {
        const { lead } = yield* submit(sampleLead({ email: "ada@globex.com" }))
        yield* startConsumer
        yield* awaitStatus(lead.id, ["SYNCED"])
        const line = (yield* Ref.get(lines)).find((l) => l.includes("lead SYNCED"))
        expect(line, (yield* Ref.get(lines)).join("\n")).toBeDefined()
        expect(line).toContain(`leadId=${lead.id}`)
        expect(line).toMatch(/SYNCED: (Route to SDR|Nurture|Ignore) \((VALID|DOWNGRADED)\)/)
        expect(line).toMatch(/CRM upsert_lead, /)
        expect(line).toMatch(/; \d+ ms \(\d+(\.\d)? m?s since received\)/)
        expect(line).not.toContain("ada@globex.com")
      }).pipe(Effect.provide(Layer.merge(memoryEnv(), logger)))
    }).pipe(Effect.scoped)
  )
})
