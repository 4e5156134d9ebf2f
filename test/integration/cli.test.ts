import { execFile } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { repoRoot } from "../../scripts/lib/processes.js"

/** Run `revenueflow <args>` (src/programs/cli.ts through tsx) against the isolated Postgres + Redis. */
const cli = (env: Readonly<Record<string, string>>, ...args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number; readonly out: string }>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join("src", "programs", "cli.ts"), ...args],
      { cwd: repoRoot, env: { ...process.env, ...env, LOG_LEVEL: "Warn" }, timeout: 60_000 },
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
        expect(replayed.out).toContain(`${id}  replayed`)
        const [row] = yield* Effect.promise(() => iso.sql`SELECT status FROM leads WHERE id = ${id}`)
        expect(row?.status).toBe("QUEUED")
        const again = yield* cli(iso.env, "replay", id)
        expect(again.out).toContain("not replayed (status QUEUED)")

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
})
