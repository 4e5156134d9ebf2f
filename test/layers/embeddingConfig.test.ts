// What an app embedding the library meets when it configures it from code (layerWith) or checks the configuration
// (checkConfig): DATABASE_URL validated before anything connects, booleans and list options refused by name, the
// Redis a setting needs named, and install hints that name the version range the package supports.
import { readFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { layerWith, providerOf } from "../../layers/config.js"
import * as Stores from "../../layers/postgres/stores.js"
import { checkConfig, layerFromConfig } from "../../layers/presets.js"
import { loadConfig } from "../../layers/shared/config.js"
import { installHint, missingPackage } from "../../layers/shared/optionalPackage.js"
import { AppConfig, appConfig } from "../../services/AppConfig.js"
import { LeadStore } from "../../services/LeadStore.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { scopedProcessEnv } from "../support/processEnv.js"
import { testDatabaseAddress } from "../support/servers.js"

const configOf = (options: Parameters<typeof layerWith>[0]) => Effect.provide(AppConfig, layerWith(options))

/** A TCP listener counting the connections it gets: where libpq's defaults (PGHOST, PGPORT) now point. */
const countingListener = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly port: number; readonly connections: () => number }>((resume) => {
    let connections = 0
    const server = createServer((socket) => {
      connections += 1
      socket.destroy()
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ server, port: (server.address() as AddressInfo).port, connections: () => connections }))
    )
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

/** libpq's default host and port (which postgres.js reads for a blank URL) at `port`, for the scope. */
const defaultsAt = (port: number) => scopedProcessEnv({ PGHOST: "127.0.0.1", PGPORT: String(port) })

const failuresOf = <E>(exit: Exit.Exit<unknown, E>): ReadonlyArray<E> =>
  Exit.isFailure(exit) ? [...Cause.failures(exit.cause)] : []

describe("DATABASE_URL", () => {
  const refused = ["", "  ", "mysql://x", "x", "postgres://", "postgres:///app", "postgres://rf:pw@/app", "redis://db"]

  it.scoped("a blank or non-Postgres URL is refused by name, in AppConfig and in checkConfig, never quoted", () =>
    Effect.gen(function* () {
      // (a URL without a host is taken only while PGHOST says where libpq's host is: see below)
      yield* scopedProcessEnv({ PGHOST: undefined })
      for (const url of refused) {
        const error = yield* Effect.flip(configOf({ databaseUrl: url }))
        expect(error.keys, JSON.stringify(url)).toEqual(["DATABASE_URL"])
        const checked = yield* Effect.flip(
          checkConfig.pipe(Effect.withConfigProvider(providerOf({ databaseUrl: url })))
        )
        expect(checked.keys, JSON.stringify(url)).toEqual(["DATABASE_URL"])
        // (a value short enough to be part of the message's own words, as "postgres://" is, proves nothing)
        if (url.length > "postgres://".length) expect(checked.message, url).not.toContain(url)
      }
      const blank = yield* Effect.flip(configOf({ databaseUrl: "" }))
      expect(blank.message).toContain(" - DATABASE_URL: is blank: set it to a postgres://")
      expect(blank.message).toContain("or leave DATABASE_URL unset for the embedded database")
      const mysql = yield* Effect.flip(configOf({ databaseUrl: "mysql://x" }))
      expect(mysql.message).toContain(" - DATABASE_URL: must be a URL of the form postgres://user:password@host:5432")
    })
  )

  it.effect("Postgres URLs postgres.js reads are accepted: postgresql://, a password, IPv6, several hosts", () =>
    Effect.gen(function* () {
      for (const url of [
        "postgres://db",
        "postgresql://rf@db.internal/app",
        "postgres://rf:p%40ss@db.internal:5432/app?sslmode=require",
        "postgres://rf@[::1]:5432/app",
        "postgres://rf:pw@db1:5432,db2:5433/app"
      ]) {
        const config = yield* configOf({ databaseUrl: url })
        expect(Option.map(config.databaseUrl, Redacted.value), url).toEqual(Option.some(url))
      }
      // and the environment's form, as the programs read it
      const fromEnv = yield* loadConfig(appConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", "postgres://db/app"]])))
      )
      expect(Option.isSome(fromEnv.databaseUrl)).toBe(true)
    })
  )

  it.scopedLive(
    "postgres:///database takes its host from PGHOST (libpq's form): accepted while it is set, and opened",
    () =>
      Effect.gen(function* () {
        const { host, port } = testDatabaseAddress()
        const test = new URL(testDatabaseUrl)
        const url = `postgres://${test.pathname}`
        yield* scopedProcessEnv({ PGHOST: undefined })
        const refusal = yield* Effect.flip(configOf({ databaseUrl: url }))
        expect(refusal.message).toContain("naming its host (or postgres:///database with PGHOST set)")
        // a user with no host is no URL postgres.js can read, PGHOST or not
        yield* scopedProcessEnv({
          PGHOST: host,
          PGPORT: String(port),
          PGUSER: decodeURIComponent(test.username),
          PGPASSWORD: test.password === "" ? undefined : decodeURIComponent(test.password)
        })
        const withUser = yield* Effect.flip(configOf({ databaseUrl: `postgres://rf@${test.pathname}` }))
        expect(withUser.keys).toEqual(["DATABASE_URL"])
        const config = yield* configOf({ databaseUrl: url })
        expect(Option.map(config.databaseUrl, Redacted.value)).toEqual(Option.some(url))
        // and postgres.js finds the database there: a store on its own schema opens and answers
        const schema = yield* testSchema
        const counts = yield* Effect.flatMap(LeadStore, (store) => store.countByStatus).pipe(
          Effect.provide(Stores.layerPostgres({ url: Redacted.make(url), schema, poolSize: 1 }))
        )
        expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(0)
      })
  )

  it.scopedLive("a blank DATABASE_URL connects nowhere: not to libpq's defaults, from layerWith or layerPostgres", () =>
    Effect.gen(function* () {
      const listener = yield* countingListener
      yield* defaultsAt(listener.port)
      const settings = { DATABASE_CONNECT_TIMEOUT_MS: "1000", MIGRATE_ON_START: "false" }
      const built = yield* Effect.exit(
        Effect.scoped(Layer.build(layerFromConfig.pipe(Layer.provideMerge(layerWith({ databaseUrl: "", settings })))))
      )
      expect(failuresOf(built).map((error) => error._tag)).toEqual(["InvalidConfiguration"])
      // a URL given to the Postgres layer itself is checked as DATABASE_URL is
      const direct = yield* Effect.exit(
        Effect.scoped(Layer.build(Stores.layerPostgres({ url: Redacted.make(""), connectTimeoutMs: 1000 })))
      )
      const [error] = failuresOf(direct)
      expect(error?._tag).toBe("StoreUnavailable")
      expect(error?.message).toContain("DATABASE_URL is blank")
      expect(listener.connections()).toBe(0)
    })
  )
})

describe("settings layerFromConfig refuses by name when no check ran first", () => {
  it.live("MIGRATE_ON_START that is no boolean is refused, not read as true", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.scoped(
          Layer.build(
            Stores.layerPgliteMemory.pipe(
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["MIGRATE_ON_START", "maybe"]]))))
            )
          )
        )
      )
      const [error] = failuresOf(exit)
      expect(error?._tag).toBe("InvalidConfiguration")
      expect(error?.message).toContain(" - MIGRATE_ON_START: Expected a boolean value")
      expect(error?.message).not.toContain("maybe")
    })
  )

  it.live("CIRCUIT_BREAKER=REDIS without REDIS_URL names the setting that needs it, as the start-up check does", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "rf-breaker-"))
      try {
        const exit = yield* Effect.exit(
          Effect.scoped(
            Layer.build(
              layerFromConfig.pipe(Layer.provideMerge(layerWith({ breaker: "REDIS", settings: { DATA_DIR: dir } })))
            )
          )
        )
        const [error] = failuresOf(exit)
        expect(error?._tag).toBe("InvalidConfiguration")
        expect(error?.message).toContain(" - REDIS_URL: is required with CIRCUIT_BREAKER=REDIS")
        const checked = yield* Effect.flip(
          checkConfig.pipe(Effect.withConfigProvider(providerOf({ breaker: "REDIS", settings: { DATA_DIR: dir } })))
        )
        expect(checked.message).toContain(error?.message.split("\n")[1] ?? "(no line)")
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  )
})

describe("layerWith's list options", () => {
  it.effect("mcpAllowedOrigins: [] means no browser page, as MCP_ALLOWED_ORIGINS unset (or blank) does", () =>
    Effect.gen(function* () {
      expect((yield* configOf({ mcpAllowedOrigins: [] })).mcpAllowedOrigins).toEqual([])
      const env = (value: string) =>
        loadConfig(appConfig).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["MCP_ALLOWED_ORIGINS", value]])))
        )
      expect((yield* env("")).mcpAllowedOrigins).toEqual([])
      // a blank entry beside origins is a list cut short: still refused
      expect((yield* Effect.flip(configOf({ mcpAllowedOrigins: ["https://a.example.com", ""] }))).keys).toEqual([
        "MCP_ALLOWED_ORIGINS"
      ])
      expect((yield* configOf({ mcpAllowedOrigins: ["https://A.example.com"] })).mcpAllowedOrigins).toEqual([
        "https://a.example.com"
      ])
    })
  )

  it.effect("apiKeys: a key holding a comma is refused (it would become two keys), named by position, not quoted", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(configOf({ apiKeys: ["k-first", "abc,def"] }))
      expect(error._tag).toBe("InvalidConfiguration")
      expect(error.keys).toEqual(["INGEST_API_KEYS"])
      expect(error.message).toContain(" - INGEST_API_KEYS: apiKeys[1] contains a comma")
      expect(error.message).not.toContain("abc")
      const config = yield* configOf({ apiKeys: ["abc", "def"] })
      expect(Option.map(config.apiKeys, Redacted.value)).toEqual(Option.some(["abc", "def"]))
    })
  )
})

describe("install hints", () => {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as {
    readonly peerDependencies: Readonly<Record<string, string>>
    readonly peerDependenciesMeta: Readonly<Record<string, { readonly optional?: boolean }>>
  }
  const optional = Object.keys(manifest.peerDependenciesMeta).filter(
    (name) => manifest.peerDependenciesMeta[name]?.optional === true
  )

  it("name the range package.json declares for every optional peer (unpinned, npm picks Effect 4's line)", () => {
    expect(optional).toContain("@effect/opentelemetry")
    for (const name of optional) {
      const range = manifest.peerDependencies[name]
      expect(range, name).toBeDefined()
      expect(installHint(name)).toBe(`npm install ${name}@${range}`)
      expect(missingPackage("OTEL_EXPORTER_OTLP_ENDPOINT", name).message).toContain(`(npm install ${name}@${range})`)
    }
  })
})
