import { mkdir, realpath } from "node:fs/promises"
import { basename, dirname, join, resolve } from "node:path"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { StoreUnavailable } from "../../services/LeadStore.js"
import { installHint, missingPackageOf } from "../shared/optionalPackage.js"
import * as DataLock from "./dataLock.js"
import { type Query, SqlClient, storeUnavailable } from "./SqlClient.js"

/** The data directory value that keeps PGlite in memory (nothing written to disk). */
export const inMemory = "memory://"

/** PGlite in `dataDir` (or in memory), the folder locked against other processes while it is open. */
const open = (dataDir: string): Effect.Effect<SqlClient.Service, StoreUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    if (dataDir !== inMemory) yield* DataLock.acquire(dataDir)
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          // PGlite creates only the last path segment itself
          if (dataDir !== inMemory) await mkdir(dataDir, { recursive: true })
          // loaded on demand: production (postgres.js) never pays for the WASM module, and a bundle may leave it external
          const { PGlite } = await import("@electric-sql/pglite")
          return await PGlite.create(dataDir)
        },
        catch: (cause) =>
          missingPackageOf(cause) === "@electric-sql/pglite"
            ? new StoreUnavailable({
                message:
                  "the embedded database (DATABASE_URL unset) needs the package @electric-sql/pglite, which is not " +
                  `installed (${installHint("@electric-sql/pglite")}), or set DATABASE_URL`
              })
            : storeUnavailable(`pglite (${dataDir})`, cause)
      }),
      (db) => Effect.promise(() => db.close().catch(() => undefined))
    )

    const run: Query = <T>(text: string, params: ReadonlyArray<unknown> = []) =>
      Effect.tryPromise({
        try: () => db.query<T>(text, [...params]),
        catch: (cause) => storeUnavailable("pglite", cause)
      }).pipe(Effect.map((result) => result.rows))

    // PGlite is one session: a statement from another fiber would run inside an open transaction, so every
    // top-level statement and every whole transaction takes the same single permit.
    const permit = yield* Effect.makeSemaphore(1)

    const transaction: SqlClient.Service["transaction"] = (use) =>
      permit.withPermits(1)(
        run("BEGIN").pipe(
          Effect.zipRight(use(run)),
          Effect.tap(() => run("COMMIT")),
          Effect.onError(() => run("ROLLBACK").pipe(Effect.ignore))
        )
      )

    return SqlClient.of({
      engine: "pglite",
      query: (text, params) => permit.withPermits(1)(run(text, params)),
      transaction
    })
  })

/** A folder's database as this process has it open: every build on that folder holds the same one. */
interface Shared {
  holders: number
  readonly client: SqlClient.Service
  readonly scope: Scope.CloseableScope
}

/**
 * The embedded databases this process has open, by folder (real path). Two environments in one process (two
 * ManagedRuntimes, an ingest and a consumer runtime, a layer provided at two call sites) opening one folder share its
 * PGlite: two instances would each write the folder from their own copy, diverge, and lose one side's writes, and
 * the first to close would drop the lock while the other still writes. The last holder to close closes the database
 * and releases the lock.
 */
const shared = new Map<string, Shared>()
/** Opening and closing take turns, so a second build never sees a database half opened or half closed. */
const sharing = Effect.unsafeMakeSemaphore(1)

/** The key of `dataDir`: its parent's real path (made if missing) and its name, so two spellings of one folder meet. */
const folderKey = (dataDir: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const parent = dirname(resolve(dataDir))
    await mkdir(parent, { recursive: true })
    return join(await realpath(parent), basename(resolve(dataDir)))
  })

/** The folder's shared database, opened on the first hold; released (closed on the last) when the scope closes. */
const hold = (dataDir: string): Effect.Effect<SqlClient.Service, StoreUnavailable, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      sharing.withPermits(1)(
        Effect.gen(function* () {
          const key = yield* folderKey(dataDir)
          const held = shared.get(key)
          if (held !== undefined) {
            held.holders += 1
            return { key, client: held.client }
          }
          const scope = yield* Scope.make()
          const client = yield* open(dataDir).pipe(
            Scope.extend(scope),
            Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
          )
          shared.set(key, { holders: 1, client, scope })
          return { key, client }
        })
      ),
      ({ key }) =>
        sharing.withPermits(1)(
          Effect.suspend(() => {
            const held = shared.get(key)
            if (held === undefined) return Effect.void
            held.holders -= 1
            if (held.holders > 0) return Effect.void
            shared.delete(key)
            return Scope.close(held.scope, Exit.void)
          })
        )
    ),
    ({ client }) => client
  )

/**
 * A SqlClient over embedded PGlite (Postgres compiled to WASM) in `dataDir`, or in memory for "memory://" (a fresh
 * database per call). On a folder, one PGlite per process: builds that open the same folder share it, and the
 * last to close closes it. Released when the scope closes.
 */
export const make = (dataDir: string): Effect.Effect<SqlClient.Service, StoreUnavailable, Scope.Scope> =>
  dataDir === inMemory ? open(inMemory) : hold(dataDir)

/** SqlClient over PGlite in `dataDir` ("memory://" for in memory). */
export const layer = (dataDir: string): Layer.Layer<SqlClient, StoreUnavailable> =>
  Layer.scoped(SqlClient, make(dataDir))

/** SqlClient over PGlite in memory: every build is a fresh, empty database. */
export const layerMemory: Layer.Layer<SqlClient, StoreUnavailable> = layer(inMemory)

/**
 * Whether the embedded database can be loaded from here. The program bundles leave PGlite out (it is for
 * `npm start`), so a bundle started without DATABASE_URL must say so instead of failing on a missing package.
 */
export const embeddedAvailable = (): boolean => {
  // vitest's module runner has no import.meta.resolve; there the package is installed anyway
  if (typeof import.meta.resolve !== "function") return true
  try {
    import.meta.resolve("@electric-sql/pglite")
    return true
  } catch {
    return false
  }
}

/** `${DATA_DIR}/pglite`, DATA_DIR defaulting to ".data" like the rest of the embedded environment. */
export const dataDirConfig: Config.Config<string> = Config.string("DATA_DIR").pipe(
  Config.withDefault(".data"),
  Config.map((dir) => join(dir, "pglite"))
)

/** SqlClient over PGlite in DATA_DIR/pglite. */
export const layerConfig: Layer.Layer<SqlClient, StoreUnavailable | ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(dataDirConfig, layer)
)
