// Two environments in one process on one embedded database folder (two ManagedRuntimes, as an app with an ingest
// runtime and a consumer runtime has): they share one PGlite, so both see every lead and none is lost when they
// close; the folder stays locked against other processes until the last of them closes.
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { layerWith } from "../../layers/config.js"
import { layerIngestFromConfig } from "../../layers/presets.js"
import { LeadStore } from "../../services/LeadStore.js"
import { newLeadKey, sampleLead } from "./fixtures.js"

const root = resolve(import.meta.dirname, "../..")

/** Another process opening the folder: what it prints (its refusal's message, or "opened"). */
const openElsewhere = (dataDir: string) =>
  new Promise<string>((done) => {
    const program = `
      import * as Effect from "effect/Effect"
      import * as Pglite from ${JSON.stringify(join(root, "layers/postgres/pglite.ts"))}
      const exit = await Effect.runPromiseExit(Effect.scoped(Pglite.make(${JSON.stringify(dataDir)})))
      console.log(exit._tag === "Success" ? "opened" : JSON.stringify(exit.cause))`
    execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "--eval", program],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => done(error ? `${error.message}\n${stderr}` : stdout)
    )
  })

describe("the embedded database opened by two environments in one process", () => {
  it.live(
    "they share it: each sees the other's leads, none lost after both close; another process is refused meanwhile",
    () =>
      Effect.gen(function* () {
        const work = mkdtempSync(join(tmpdir(), "rf-pglite-shared-"))
        try {
          const environment = () =>
            ManagedRuntime.make(
              layerIngestFromConfig.pipe(Layer.provideMerge(layerWith({ settings: { DATA_DIR: work } })))
            )
          const accept = Effect.flatMap(LeadStore, (store) =>
            store.accept({ leadKey: newLeadKey(), source: "api", lead: sampleLead() })
          )
          // every lead the store holds, whatever its status
          const queued = Effect.map(
            Effect.flatMap(LeadStore, (store) => store.countByStatus),
            (counts) => Object.values(counts).reduce((sum, n) => sum + n, 0)
          )
          const a = environment()
          const b = environment()
          yield* Effect.promise(() => a.runPromise(accept))
          for (let i = 0; i < 10; i++) {
            yield* Effect.promise(() => a.runPromise(accept))
            yield* Effect.promise(() => b.runPromise(accept))
          }
          expect(yield* Effect.promise(() => a.runPromise(queued))).toBe(21)
          expect(yield* Effect.promise(() => b.runPromise(queued))).toBe(21)

          const lock = join(work, "pglite.lock")
          yield* Effect.promise(() => a.dispose())
          // b still writes the folder: the lock stays, and another process is refused
          expect(existsSync(lock)).toBe(true)
          expect(readFileSync(lock, "utf8").split("\n")[0]).toBe(String(process.pid))
          const elsewhere = yield* Effect.promise(() => openElsewhere(join(work, "pglite")))
          expect(elsewhere).toContain(`is in use by process ${process.pid}`)
          yield* Effect.promise(() => b.runPromise(accept))
          yield* Effect.promise(() => b.dispose())
          expect(existsSync(lock)).toBe(false)

          const reopened = environment()
          try {
            expect(yield* Effect.promise(() => reopened.runPromise(queued))).toBe(22)
          } finally {
            yield* Effect.promise(() => reopened.dispose())
          }
        } finally {
          rmSync(work, { recursive: true, force: true })
        }
      }),
    120_000
  )
})
