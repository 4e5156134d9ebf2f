import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { layerWith } from "../../layers/config.js"
import { missingPackageOf } from "../../layers/shared/optionalPackage.js"
import * as Stores from "../../layers/postgres/stores.js"
import { AppConfig } from "../../services/AppConfig.js"

const configOf = (options: Parameters<typeof layerWith>[0]) => Effect.provide(AppConfig, layerWith(options))

describe("layerWith (configuration from code)", () => {
  it.effect("gives AppConfig the options, the defaults for the rest, and secrets Redacted", () =>
    Effect.gen(function* () {
      const config = yield* configOf({
        port: 8080,
        databaseUrl: "postgres://app:s3cret@db:5432/leads",
        apiKeys: ["k1", "k2"],
        rateLimits: { perLead: 3 },
        webhooks: { marketoToken: Redacted.make("token"), marketoTokenPrevious: "old-token", maxBodyBytes: 2_000_000 },
        crmProvider: "HUBSPOT"
      })
      expect(config.port).toBe(8080)
      expect(config.crmProvider).toBe("HUBSPOT")
      expect(config.rateLimits).toEqual({ perLead: 3, perAccount: 100, crm: 1000, windowMs: 60_000 })
      expect(config.jobAttempts).toBe(5)
      expect(Option.map(config.databaseUrl, Redacted.value)).toEqual(Option.some("postgres://app:s3cret@db:5432/leads"))
      expect(Option.map(config.apiKeys, Redacted.value)).toEqual(Option.some(["k1", "k2"]))
      expect(Option.map(config.webhooks.marketoToken, Redacted.value)).toEqual(Option.some("token"))
      expect(Option.map(config.webhooks.marketoTokenPrevious, Redacted.value)).toEqual(Option.some("old-token"))
      expect(config.webhooks.maxBodyBytes).toBe(2_000_000)
      expect(String(Option.getOrThrow(config.databaseUrl))).not.toContain("s3cret")
    })
  )

  it.effect("refuses bad values as the environment's are: every bad setting named, never its value", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(configOf({ port: 70_000, jobAttempts: 0, redisUrl: "db:6379" }))
      expect(error._tag).toBe("InvalidConfiguration")
      expect([...error.keys].sort()).toEqual(["JOB_ATTEMPTS", "PORT", "REDIS_URL"])
      expect(error.message).not.toContain("db:6379")
    })
  )

  it.effect("a number that is no integer gets the setting's own rule, as one out of range does", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(configOf({ port: 80.5, workerConcurrency: 2.5, keepAliveTimeoutMs: Number.NaN }))
      expect(error.message).toBe(
        [
          "Invalid configuration:",
          " - PORT: must be a port number from 1 to 65535 (0: any free port)",
          " - KEEP_ALIVE_TIMEOUT_MS: must be a positive integer",
          " - WORKER_CONCURRENCY: must be a positive integer"
        ].join("\n")
      )
    })
  )

  it.effect("reads RevenueFlow's settings from nothing but the options unless asked to", () =>
    Effect.gen(function* () {
      const before = process.env.QUEUE_NAME
      process.env.QUEUE_NAME = "from env"
      try {
        const setting = Config.string("QUEUE_NAME")
        const alone = yield* Effect.either(Effect.provide(setting, layerWith({})))
        expect(alone._tag).toBe("Left")
        const withEnv = yield* Effect.provide(setting, layerWith({ fallbackToEnv: true }))
        expect(withEnv).toBe("from env")
        const given = yield* Effect.provide(
          setting,
          layerWith({ fallbackToEnv: true, settings: { QUEUE_NAME: "from code" } })
        )
        expect(given).toBe("from code")
      } finally {
        if (before === undefined) delete process.env.QUEUE_NAME
        else process.env.QUEUE_NAME = before
      }
    })
  )

  it.live(
    "the layers built with it read its settings: the embedded database opens in the DATA_DIR given in code",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "rf-config-"))
        try {
          const env = Stores.layerPglite.pipe(Layer.provide(layerWith({ settings: { DATA_DIR: dir } })))
          yield* Effect.scoped(Layer.build(env))
          expect(existsSync(join(dir, "pglite", "PG_VERSION"))).toBe(true)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }),
    60_000
  )
})

describe("missingPackageOf", () => {
  it("names the package an import could not find, from Node's ESM and CJS loaders", async () => {
    const esm = await import("jsforce-is-not-installed" as string).catch((error: unknown) => error)
    expect(missingPackageOf(esm)).toBe("jsforce-is-not-installed")
    const scoped = await import("@hubspot/not-installed-client/lib/x.js" as string).catch((error: unknown) => error)
    expect(missingPackageOf(scoped)).toBe("@hubspot/not-installed-client")
    const cjs = Object.assign(new Error("Cannot find module 'ioredis'\nRequire stack: ..."), {
      code: "MODULE_NOT_FOUND"
    })
    expect(missingPackageOf(cjs)).toBe("ioredis")
  })

  it("is undefined for a missing file or any other failure", () => {
    const file = Object.assign(new Error("Cannot find module '/app/dist/x.js' imported from /app/y.js"), {
      code: "ERR_MODULE_NOT_FOUND"
    })
    expect(missingPackageOf(file)).toBeUndefined()
    expect(missingPackageOf(new Error("boom"))).toBeUndefined()
    expect(missingPackageOf(undefined)).toBeUndefined()
  })
})
