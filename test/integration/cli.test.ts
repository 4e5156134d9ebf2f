import { execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type Isolation, makeIsolation } from "../../scripts/lib/isolation.js"
import { LeadStore } from "../../services/LeadStore.js"
import { makeFakeSecretsManager } from "../fakes/secretsManager.js"
import { makeFakeSqs } from "../fakes/sqs.js"
import { withApi } from "../http/harness.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { errorText } from "../../src/domain/redact.js"
import { repoRoot } from "../../scripts/lib/processes.js"

/** An empty value unsets the variable (DATABASE_URL: "" selects the embedded database). */
const withoutBlank = (env: Readonly<Record<string, string | undefined>>) =>
  Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""))

/**
 * Run `revenueflow <args>` (src/programs/cli.ts through tsx) against the isolated Postgres + Redis. `out` is both
 * streams; LOG_LEVEL is Warn unless `env` says otherwise.
 */
const cli = (env: Readonly<Record<string, string>>, ...args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number; readonly out: string; readonly stdout: string; readonly stderr: string }>(
    (resume) => {
      execFile(
        process.execPath,
        ["--import", "tsx", join("src", "programs", "cli.ts"), ...args],
        { cwd: repoRoot, env: withoutBlank({ ...process.env, LOG_LEVEL: "Warn", ...env }), timeout: 60_000 },
        (error, stdout, stderr) =>
          resume(Effect.succeed({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr, stdout, stderr }))
      )
    }
  )

/** A lead row as the ingest writes it, in `status`, last touched `ageMs` ago. */
const insertLead = (iso: Isolation, id: string, status: string, ageMs = 0) =>
  Effect.promise(
    () => iso.sql`INSERT INTO leads (id, lead_key, source, status, input, error, created_at, updated_at)
      VALUES (${id}, ${id.replaceAll("-", "").repeat(2)}, 'api', ${status},
              ${iso.sql.json({ email: "a@globex.com", campaignId: "c" })},
              ${status === "FAILED" ? "CRM rejected the request: REQUIRED_FIELD_MISSING" : null},
              now() - ${ageMs} * interval '1 millisecond', now() - ${ageMs} * interval '1 millisecond')`
  )

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

describe("the operator CLI's replay, when a lead's replay fails or loses a race", () => {
  it.scopedLive(
    "replay --all tries every dead letter: a lead the queue fails on is named with why, the others are replayed, exit 1",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        expect((yield* cli(iso.env, "migrate")).code).toBe(0)
        const ids = [0, 1, 2, 3, 4].map((i) => `${i}c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f`)
        // oldest first: the order replay --all takes them in
        for (const [i, id] of ids.entries()) yield* insertLead(iso, id, "FAILED", (5 - i) * 10_000)
        // the third lead's job is a key BullMQ cannot read (Redis answers WRONGTYPE): the queue fails on that lead
        const jobKey = `${iso.prefix}:${iso.queueName}:${ids[2]}`
        yield* Effect.promise(() => iso.redis.set(jobKey, "not a job"))

        const all = yield* cli(iso.env, "replay", "--all")
        expect(all.code, all.out).toBe(1)
        const lines = all.stdout.trimEnd().split("\n")
        expect(lines.slice(0, 5)).toEqual([
          `${ids[0]}  replayed: QUEUED`,
          `${ids[1]}  replayed: QUEUED`,
          expect.stringMatching(
            new RegExp(`^${ids[2]}  failed: The queue is unavailable: replay failed: .*WRONGTYPE.*; it stays FAILED$`)
          ),
          `${ids[3]}  replayed: QUEUED`,
          `${ids[4]}  replayed: QUEUED`
        ])
        expect(lines[5]).toMatch(/^4 lead\(s\) queued \(1 failed\); it is on the BullMQ queue /)
        expect(all.stderr).toContain("1 of 5 lead(s) could not be replayed")
        expect(all.out).not.toMatch(/\n\s+at /)
        const rows = yield* Effect.promise(() => iso.sql`SELECT id, status FROM leads ORDER BY updated_at, id`)
        expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({
          [ids[0]!]: "QUEUED",
          [ids[1]!]: "QUEUED",
          [ids[2]!]: "FAILED",
          [ids[3]!]: "QUEUED",
          [ids[4]!]: "QUEUED"
        })

        // once the queue takes it, the same command replays the one left
        yield* Effect.promise(() => iso.redis.del(jobKey))
        const again = yield* cli(iso.env, "replay", "--all")
        expect(again.code, again.out).toBe(0)
        expect(again.stdout).toMatch(new RegExp(`^${ids[2]}  replayed: QUEUED\n1 lead\\(s\\) queued; `))
      }),
    120_000
  )

  it.scopedLive(
    "replay <id> that loses a race to a replay from the console says the lead is QUEUED (exit 5), no error dump",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        expect((yield* cli(iso.env, "migrate")).code).toBe(0)
        const id = "7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
        yield* insertLead(iso, id, "FAILED")
        // the console's replay lands between the CLI's read (FAILED) and its write: the row is QUEUED by then
        yield* Effect.promise(() =>
          iso.sql.unsafe(`
            CREATE FUNCTION ${iso.schema}.replayed_elsewhere() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF pg_trigger_depth() = 1 AND OLD.status = 'FAILED' AND NEW.status = 'QUEUED' THEN
                UPDATE ${iso.schema}.leads SET status = 'QUEUED', error = NULL, updated_at = now() WHERE id = OLD.id;
                RETURN NULL;
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER replayed_elsewhere BEFORE UPDATE ON ${iso.schema}.leads
              FOR EACH ROW EXECUTE FUNCTION ${iso.schema}.replayed_elsewhere();`)
        )
        const raced = yield* cli(iso.env, "replay", id)
        expect(raced.code, raced.out).toBe(5)
        expect(raced.stdout).toBe(`${id}  not replayed: it is QUEUED\n`)
        expect(raced.out).not.toContain("expected")
        expect(raced.out).not.toContain("{")
        const [row] = yield* Effect.promise(() => iso.sql`SELECT status FROM leads WHERE id = ${id}`)
        expect(row?.status).toBe("QUEUED")
      }),
    120_000
  )
})

describe("the operator CLI's command line", () => {
  it.live("-h, --help and help print the usage on stdout and exit 0", () =>
    Effect.gen(function* () {
      for (const flag of ["-h", "--help", "help"]) {
        const help = yield* cli({}, flag)
        expect(help.code, help.out).toBe(0)
        expect(help.stdout).toMatch(/^Usage: revenueflow <command>/)
        expect(help.stderr).toBe("")
      }
    })
  )

  it.scopedLive(
    "extra arguments are refused (exit 2, naming the argument), not ignored: `migrate extra` migrates nothing",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const refused = yield* cli(iso.env, "migrate", "extra")
        expect(refused.code, refused.out).toBe(2)
        expect(refused.stderr).toContain('unexpected argument "extra" to migrate')
        const [table] = yield* Effect.promise(
          () => iso.sql`SELECT count(*)::int AS n FROM information_schema.tables
            WHERE table_schema = ${iso.schema} AND table_name = 'leads'`
        )
        expect(table?.n).toBe(0)
        expect((yield* cli(iso.env, "migrate")).code).toBe(0)
        for (const args of [
          ["dead-letters", "2", "extra"],
          ["replay", "--all", "5", "extra"],
          ["replay", "-x"],
          ["sweep", "extra"],
          ["stats", "extra"]
        ]) {
          const wrong = yield* cli(iso.env, ...args)
          expect(wrong.code, `${args.join(" ")}: ${wrong.out}`).toBe(2)
          expect(wrong.stderr, args.join(" ")).toContain(`unexpected argument ${JSON.stringify(args.at(-1))}`)
          expect(wrong.stdout, args.join(" ")).toBe("")
        }
      }),
    120_000
  )

  it.scopedLive(
    "a limit is a plain decimal whole number from 1 to 10000; anything else is exit 2 naming it and the range",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        expect((yield* cli(iso.env, "migrate")).code).toBe(0)
        for (const args of [
          ["dead-letters", "1e2"],
          ["dead-letters", "0x10"],
          ["dead-letters", "abc"],
          ["dead-letters", "0"],
          ["dead-letters", "2.0"],
          ["dead-letters", "10001"],
          ["replay", "--all", "1e3"]
        ]) {
          const wrong = yield* cli(iso.env, ...args)
          expect(wrong.code, `${args.join(" ")}: ${wrong.out}`).toBe(2)
          expect(wrong.stderr).toContain(
            `limit must be a whole number from 1 to 10000, got ${JSON.stringify(args.at(-1))}`
          )
          expect(wrong.stdout).toBe("")
        }
        for (const limit of ["1", "10000"]) {
          const listed = yield* cli(iso.env, "dead-letters", limit)
          expect(listed.code, listed.out).toBe(0)
          expect(listed.stdout).toBe("no dead letters\n")
        }
      }),
    120_000
  )

  it.live(
    "the command line is checked before anything is built: exit 2 with Postgres and Redis down",
    () =>
      Effect.gen(function* () {
        // nothing listens on port 1: a command that connected first would fail with exit 1 (store unavailable)
        const down = { DATABASE_URL: "postgres://postgres@127.0.0.1:1/test", REDIS_URL: "redis://127.0.0.1:1" }
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
          [["replay"], "replay needs a lead id or --all"],
          [["dead-letters", "abc"], 'limit must be a whole number from 1 to 10000, got "abc"'],
          [["replay", "--all", "0"], 'limit must be a whole number from 1 to 10000, got "0"'],
          [["frobnicate"], 'unknown command "frobnicate"']
        ]
        for (const [args, message] of cases) {
          const wrong = yield* cli(down, ...args)
          expect(wrong.code, `${args.join(" ")}: ${wrong.out}`).toBe(2)
          expect(wrong.stderr, args.join(" ")).toContain(message)
          expect(wrong.stdout, args.join(" ")).toBe("")
        }
      }),
    120_000
  )

  it.scopedLive(
    "stdout carries the command's result alone: log lines go to stderr",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const env = { ...iso.env, LOG_LEVEL: "Info" }
        expect((yield* cli(env, "migrate")).stdout).toBe("migrations applied\n")
        const id = "5c0a7e2b-1d3f-4e5a-8b6c-7d8e9f0a1b2c"
        yield* insertLead(iso, id, "RECEIVED", 60_000)
        const swept = yield* cli(env, "sweep")
        expect(swept.code, swept.out).toBe(0)
        expect(swept.stderr).toContain("outbox sweep re-enqueued 1 lead(s)")
        expect(swept.stdout).toMatch(/^enqueued 1 lead\(s\); it is on the BullMQ queue \S+ in Redis: [^\n]*\n$/)
        const stats = yield* cli(env, "stats")
        expect(stats.code, stats.out).toBe(0)
        // the whole of stdout is the JSON document (`stats | jq`)
        expect(JSON.parse(stats.stdout)).toMatchObject({ queue: { waiting: 1 }, leads: { QUEUED: 1 } })
      }),
    120_000
  )
})

describe("the operator CLI on SQS (QUEUE_BACKEND=SQS, a fake SQS over the AWS protocol)", () => {
  it.scopedLive(
    "replays and sweeps onto the SQS queue, says so, and reports the SQS queue's counts",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const fake = yield* makeFakeSqs
        const { url, dlqUrl } = fake.createQueue("leads-cli", {
          deadLetter: { name: "leads-cli-dlq", maxReceiveCount: 3 }
        })
        const sqs = {
          ...iso.env,
          QUEUE_BACKEND: "SQS",
          SQS_QUEUE_URL: url,
          SQS_DLQ_URL: dlqUrl ?? "",
          AWS_REGION: "eu-west-1",
          AWS_ACCESS_KEY_ID: "AKIAFAKECLISQS",
          AWS_SECRET_ACCESS_KEY: "fakeCliSqsKey",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_ENDPOINT_URL_SQS: fake.url
        }
        // REDIS_URL set or not, the jobs go to SQS
        const withoutRedis = { ...sqs, REDIS_URL: "" }
        expect((yield* cli(sqs, "migrate")).code).toBe(0)
        // the counts are the SQS queue's, read through its API (not "in-memory queue: ..." for want of REDIS_URL)
        const empty = yield* cli(withoutRedis, "stats")
        expect(empty.code, empty.out).toBe(0)
        expect(JSON.parse(empty.stdout)).toMatchObject({ queue: { waiting: 0, active: 0, failed: 0 } })
        const [one, two, stuck, inFlight] = [
          "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
          "1a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
          "2a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
          "3a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
        ]
        yield* insertLead(iso, one, "FAILED")
        yield* insertLead(iso, two, "FAILED")
        yield* insertLead(iso, stuck, "RECEIVED", 60_000)
        // queued 2 h ago, with the consumers' sweeps told to send a queued lead again only after 3 h (a long delay
        // still holds its first copy): the operator's sweep waits as long, not its default hour
        yield* insertLead(iso, inFlight, "QUEUED", 2 * 3_600_000)
        const sent = () => fake.messages("leads-cli").map((m) => (JSON.parse(m.body) as { leadId: string }).leadId)

        const replayed = yield* cli(sqs, "replay", one)
        expect(replayed.code, replayed.out).toBe(0)
        expect(replayed.stdout).toContain("1 lead(s) queued; it is on the SQS queue leads-cli")
        expect(replayed.stdout).not.toMatch(/BullMQ|embedded/)
        expect(sent()).toEqual([one])

        const all = yield* cli(withoutRedis, "replay", "--all")
        expect(all.code, all.out).toBe(0)
        expect(all.stdout).toContain(`${two}  replayed: QUEUED`)
        expect(all.stdout).toContain("it is on the SQS queue leads-cli")
        expect(all.stdout).not.toMatch(/BullMQ|embedded/)
        expect(sent()).toContain(two)

        const swept = yield* cli({ ...withoutRedis, SWEEP_RESEND_MIN_AGE_MS: String(3 * 3_600_000) }, "sweep")
        expect(swept.code, swept.out).toBe(0)
        expect(swept.stdout).toMatch(/^enqueued \d+ lead\(s\); it is on the SQS queue leads-cli/)
        expect(sent()).toContain(stuck)
        expect(sent()).not.toContain(inFlight)

        const stats = yield* cli(withoutRedis, "stats")
        expect(stats.code, stats.out).toBe(0)
        const parsed = JSON.parse(stats.stdout) as { queue: { waiting: number; failed: number }; leads: object }
        expect(parsed.queue).toMatchObject({ waiting: sent().length, failed: 0 })
        expect(parsed.leads).toMatchObject({ QUEUED: 4 })
        expect(fake.operations()).toContain("GetQueueAttributes")
      }),
    180_000
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

        // replay of one lead is handed to the server that holds the folder (on PORT), whose queue runs it now; with
        // the key the server takes (a blank entry in the list is no key)
        const keys = { INGEST_API_KEYS: " ,cli-key-2" }
        yield* withApi(memoryEnv({ env: keys }), (api) =>
          Effect.gen(function* () {
            const id: string = (yield* api.postJson("/leads", sampleLead(), { "x-api-key": "cli-key-2" })).json.id
            const store = yield* LeadStore
            yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
            const port = new URL(api.base).port
            const handed = yield* cli({ ...env, ...keys, PORT: port }, "replay", id)
            expect(handed.code, handed.out).toBe(0)
            expect(handed.out).toContain(`${id}  replayed: QUEUED by the running server`)
            expect((yield* store.get(id)).status).toBe("QUEUED")
            const again = yield* cli({ ...env, ...keys, PORT: port }, "replay", id)
            expect(again.code, again.out).toBe(5)
          })
        )
      }),
    180_000
  )
})
