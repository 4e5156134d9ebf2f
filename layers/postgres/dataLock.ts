import { open, readFile, unlink } from "node:fs/promises"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { StoreUnavailable } from "../../services/LeadStore.js"

/**
 * PGlite takes no lock on its folder, and two processes writing one folder corrupt it. The process that opens the
 * embedded database writes its pid to `<folder>.lock` (created exclusively) and removes it on close; another
 * process finds a live pid there and is refused with a message naming it. A lock whose process is gone is stale and
 * taken over. Within one process the folder is opened once and shared (pglite.ts, `hold`), so this process' own pid
 * here, with no open database of its own on the folder, is a leftover (a release that could not unlink) and taken
 * over too; the lock goes when the last holder in the process closes, not the first.
 */
export const lockPath = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}.lock`

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The pid holding `dataDir`, when a live process other than this one holds it. */
export const holder = (dataDir: string): Effect.Effect<number | undefined> =>
  Effect.promise(async () => {
    const text = await readFile(lockPath(dataDir), "utf8").catch(() => undefined)
    const pid = Number(text?.split("\n")[0])
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined
  })

/** The message a refused process shows. */
export const inUseMessage = (dataDir: string, pid: number) =>
  `The embedded database in ${dataDir} is in use by process ${pid} (npm start?). PGlite allows one process per ` +
  "folder: stop that process first, or act through it (its console at /console, POST /leads/:id/replay)."

const tryCreate = (path: string) =>
  Effect.promise(() =>
    open(path, "wx").then(
      async (file) => {
        await file.writeFile(`${process.pid}\n${process.argv.slice(1).join(" ")}\n`)
        await file.close()
        return true
      },
      () => false
    )
  )

/** Holds `dataDir` for the scope; fails with StoreUnavailable naming the holder when a live process has it. */
export const acquire = (dataDir: string): Effect.Effect<void, StoreUnavailable, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const path = lockPath(dataDir)
      for (let attempt = 0; attempt < 2; attempt++) {
        if (yield* tryCreate(path)) return
        const pid = yield* holder(dataDir)
        if (pid !== undefined) return yield* Effect.fail(new StoreUnavailable({ message: inUseMessage(dataDir, pid) }))
        // stale: its process is gone (or it is our own, from an earlier open in this process)
        yield* Effect.promise(() => unlink(path).catch(() => undefined))
      }
      return yield* Effect.fail(new StoreUnavailable({ message: `cannot lock ${path}` }))
    }),
    () => Effect.promise(() => unlink(lockPath(dataDir)).catch(() => undefined))
  )
