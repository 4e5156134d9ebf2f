import { execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { LeadStore } from "../../services/LeadStore.js"
import { makeFakeSecretsManager } from "../fakes/secretsManager.js"
import { withApi } from "../http/harness.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { errorText } from "../../src/domain/redact.js"
import { repoRoot } from "../../scripts/lib/processes.js"

/** An empty value unsets the variable (DATABASE_URL: "" selects the embedded database). */
const withoutBlank = (env: Readonly<Record<string, string | undefined>>) =>
  Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""))

/** Run `revenueflow <args>` (src/programs/cli.ts through tsx) against the isolated Postgres + Redis. */
const cli = (env: Readonly<Record<string, string>>, ...args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number; readonly out: string }>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join("src", "programs", "cli.ts"), ...args],
      { cwd: repoRoot, env: withoutBlank({ ...process.env, ...env, LOG_LEVEL: "Warn" }), timeout: 60_000 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }))
    )
  })

describe("the operator CLI on Postgres + Redis", () => {
  it.scopedLive(
    "migrates, lists dead letters with their reasons, replays one idempotently, reports stats",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const migrated = yield* cli(iso.env, "migrate")
        expect(migrated.out).toContain("migrations applied")
        const id = "1b2a9c3e-7d4f-4a1b-9c2d-3e4f5a6b7c8d"
        yield* Effect.promise(
          () => iso.sql`INSERT INTO leads (id, lead_key, source, status, input, error)
            VALUES (${id}, ${"k".repeat(64)}, 'api', 'FAILED', ${iso.sql.json({ email: "a@globex.com", campaignId: "c" })},
                    'CRM rejected the request: REQUIRED_FIELD_MISSING')`
        )

        const letters = yield* cli(iso.env, "dead-letters")
        expect(letters.code).toBe(0)
        expect(letters.out).toContain(id)
        expect(letters.out).toContain("REQUIRED_FIELD_MISSING")

        const replayed = yield* cli(iso.env, "replay", id)
        expect(replayed.code).toBe(0)
        expect(replayed.out).toContain(`${id}  replayed: QUEUED`)
        expect(replayed.out).toContain("a running consumer picks it up now")
        const [row] = yield* Effect.promise(() => iso.sql`SELECT status FROM leads WHERE id = ${id}`)
        expect(row?.status).toBe("QUEUED")
        const again = yield* cli(iso.env, "replay", id)
        expect(again.out).toContain("not replayed: it is QUEUED")
        expect(again.code).toBe(5)

        const stats = yield* cli(iso.env, "stats")
        const parsed = JSON.parse(stats.out.slice(stats.out.indexOf("{"))) as {
          queue: { waiting: number }
          leads: Record<string, number>
        }
        expect(parsed.queue.waiting).toBe(1)
        expect(parsed.leads.QUEUED).toBe(1)
        expect((yield* cli(iso.env, "dead-letters")).out).toContain("no dead letters")
      }),
    120_000
  )

  it.scopedLive(
    "an unknown id is one line and exit 3; a wrong command line is exit 2; no stack traces",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        yield* cli(iso.env, "migrate")
        for (const id of ["1b2a9c3e-7d4f-4a1b-9c2d-000000000000", "not-a-uuid"]) {
          const missing = yield* cli(iso.env, "replay", id)
          expect(missing.code, missing.out).toBe(3)
          expect(missing.out.trim()).toBe(`No lead with id ${JSON.stringify(id)}`)
        }
        const unknown = yield* cli(iso.env, "frobnicate")
        expect(unknown.code).toBe(2)
        expect(unknown.out).toContain('unknown command "frobnicate"')
        const badLimit = yield* cli(iso.env, "dead-letters", "ten")
        expect(badLimit.code).toBe(2)
        expect(badLimit.out).not.toMatch(/\n\s+at /)
        expect((yield* cli(iso.env, "replay")).code).toBe(2)
      }),
    120_000
  )

  it.scopedLive(
    "with AWS_SECRETS_IDS, migrate finds DATABASE_URL in Secrets Manager as the programs do",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const secrets = yield* makeFakeSecretsManager({
          "rf/cli": JSON.stringify({ DATABASE_URL: iso.env.DATABASE_URL, REDIS_URL: iso.env.REDIS_URL })
        })
        const aws = {
          AWS_REGION: "eu-west-1",
          AWS_ACCESS_KEY_ID: "AKIAFAKECLITEST",
          AWS_SECRET_ACCESS_KEY: "fakeCliKey/DoNotLog",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
          AWS_SECRETS_IDS: "rf/cli"
        }
        // were the secret not read, the CLI would fall back to the embedded database: in a folder of its own
        const dataDir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "rf-cli-secrets-"))),
          (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        // the connection settings only in the secret: unset in the environment
        const env = { ...iso.env, ...aws, DATABASE_URL: "", REDIS_URL: "", DATA_DIR: dataDir }
        const migrated = yield* cli(env, "migrate")
        expect(migrated.code, migrated.out).toBe(0)
        expect(migrated.out).toContain("migrations applied")
        const [table] = yield* Effect.promise(
          () => iso.sql`SELECT count(*)::int AS n FROM information_schema.tables
            WHERE table_schema = ${iso.schema} AND table_name = 'leads'`
        )
        expect(table?.n).toBe(1)
        const stats = yield* cli(env, "stats")
        expect(stats.code, stats.out).toBe(0)
        expect(stats.out).toContain('"leads"')
      }),
    120_000
  )
})

describe("the operator CLI on the embedded database", () => {
  it.scopedLive(
    "refuses clearly, with exit 4, while another process holds the data folder",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "rf-cli-lock-"))),
          (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
        )
        // a live process that is not the CLI holds the folder, as npm start does
        const holder = yield* Effect.acquireRelease(
          Effect.sync(() => spawn("sleep", ["60"], { stdio: "ignore" })),
          (child) => Effect.sync(() => child.kill("SIGKILL"))
        )
        writeFileSync(join(dir, "pglite.lock"), `${holder.pid}\nnpm start\n`)
        const env = { DATA_DIR: dir, DATABASE_URL: "", REDIS_URL: "" }
        for (const command of ["stats", "dead-letters"]) {
          const refused = yield* cli(env, command)
          expect(refused.code, refused.out).toBe(4)
          expect(refused.out).toContain(`is in use by process ${holder.pid}`)
          expect(refused.out).not.toMatch(/\n\s+at /)
        }

        // replay of one lead is handed to the server that holds the folder (on PORT), whose queue runs it now
        yield* withApi(memoryEnv(), (api) =>
          Effect.gen(function* () {
            const id: string = (yield* api.postJson("/leads", sampleLead())).json.id
            const store = yield* LeadStore
            yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
            const port = new URL(api.base).port
            const handed = yield* cli({ ...env, PORT: port }, "replay", id)
            expect(handed.code, handed.out).toBe(0)
            expect(handed.out).toContain(`${id}  replayed: QUEUED by the running server`)
            expect((yield* store.get(id)).status).toBe("QUEUED")
            const again = yield* cli({ ...env, PORT: port }, "replay", id)
            expect(again.code, again.out).toBe(5)
          })
        )
      }),
    180_000
  )
})
