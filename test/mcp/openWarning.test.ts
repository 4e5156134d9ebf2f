import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { banner } from "../../src/programs/banner.js"
import { configFrom } from "../support/env.js"

/** The lines the ingest's start-up banner logs with these settings, with their levels. */
const startLines = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make((options) => {
        lines.push(Logger.logfmtLogger.log(options))
      })
    )
    yield* Layer.build(
      banner("RevenueFlow ingest is running", { api: true, consumer: false }).pipe(
        Layer.provide(
          Layer.mergeAll(configFrom({ PORT: "4010", ...env }), logger, Logger.minimumLogLevel(LogLevel.All))
        )
      )
    )
    return lines
  }).pipe(Effect.scoped)

const warnings = (lines: ReadonlyArray<string>) => lines.filter((line) => line.includes("level=WARN"))

describe("the ingest's start-up says when /mcp is open to the network", () => {
  it.live("no INGEST_API_KEYS and a HOST beyond loopback: one WARN line naming /mcp, the risk and the fix", () =>
    Effect.gen(function* () {
      for (const host of ["0.0.0.0", "10.0.3.7", "::"]) {
        const lines = yield* startLines({ HOST: host })
        const warned = warnings(lines)
        expect(warned, lines.join("\n")).toHaveLength(1)
        expect(warned[0]).toContain("/mcp is open")
        expect(warned[0]).toContain("CRM writes")
        expect(warned[0]).toContain("INGEST_API_KEYS")
        expect(lines.join("\n")).toMatch(/MCP\s+http:\/\/[^ ]+:4010\/mcp/)
      }
    })
  )

  it.live("with API keys, or bound to loopback: no warning", () =>
    Effect.gen(function* () {
      expect(warnings(yield* startLines({ HOST: "0.0.0.0", INGEST_API_KEYS: "k-1" }))).toEqual([])
      for (const host of ["127.0.0.1", "localhost", "::1"])
        expect(warnings(yield* startLines({ HOST: host }))).toEqual([])
    })
  )
})
