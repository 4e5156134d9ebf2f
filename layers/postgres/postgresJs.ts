import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type postgres from "postgres"
import { databaseUrlConfig, databaseUrlProblem } from "../../services/AppConfig.js"
import { StoreUnavailable } from "../../services/LeadStore.js"
import { SecretsRefresh } from "../../services/SecretsRefresh.js"
import { positiveInt } from "../shared/config.js"
import { liveRedacted } from "../shared/liveConfig.js"
import { installHint, missingPackageOf } from "../shared/optionalPackage.js"
import { type Query, SqlClient, storeUnavailable } from "./SqlClient.js"
import { checkedOr } from "../shared/config.js"

/** How to reach Postgres. Only `url` is required. */
export interface PostgresOptions {
  readonly url: Redacted.Redacted<string>
  /** Connections in the pool (default 10). */
  readonly poolSize?: number | undefined
  /** Server-side statement_timeout per statement (default 5000 ms). */
  readonly statementTimeoutMs?: number | undefined
  /** Give up opening a connection after this long (default 10000 ms). */
  readonly connectTimeoutMs?: number | undefined
  /** search_path for every connection; the schema must exist. Tests use one schema per run. */
  readonly schema?: string | undefined
  /**
   * Asked for on every new connection instead of the URL's password: a rotated secret reaches connections opened
   * after the rotation (postgres.js replaces each connection within max_lifetime, 30 to 60 minutes).
   */
  readonly password?: (() => Promise<string>) | undefined
  /**
   * Re-reads the credentials (the secret store) when Postgres refuses a login (SQLSTATE 28P01 or 28000): after a
   * rotation the new password then reaches the next connection within seconds, not at the next periodic refresh, and
   * a start that meets the refusal tries once more with what the refresh read. (SecretsRefresh limits how often.)
   */
  readonly refreshCredentials?: Effect.Effect<void> | undefined
}

/** Postgres refused the login: a wrong password (28P01) or no such user / not allowed (28000). */
const loginRefused = (error: StoreUnavailable): boolean => error.sqlState === "28P01" || error.sqlState === "28000"

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** The password as written in the URL and percent-decoded, so error messages can be scrubbed of both. */
const secretsOf = (url: string): ReadonlyArray<string> => {
  const password = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]*)@/i.exec(url)?.[1] ?? ""
  let decoded = password
  try {
    decoded = decodeURIComponent(password)
  } catch {
    // a malformed escape: scrubbing the raw form is still right
  }
  return [url, password, decoded]
}

/** host:port of every server the pool may use (postgres.js reads multi-host URLs); no user, no password. */
const addressOf = (sql: postgres.Sql): string =>
  sql.options.host.map((host, i) => `${host}:${sql.options.port[i] ?? sql.options.port[0] ?? 5432}`).join(",")

/**
 * The first connection and a first answer, bounded by the connect timeout. Left to the migrations, a listener that
 * answers garbage or nothing held start-up for the driver's whole timeout with SIGTERM ignored (a transaction
 * awaits its connection uninterruptibly), and one that completes a handshake and then goes quiet was not bounded
 * at all (statement_timeout is server-side). This wait is interruptible: SIGTERM ends it at once.
 */
const firstConnection = (
  sql: postgres.Sql,
  connectTimeoutMs: number,
  secrets: ReadonlyArray<string>
): Effect.Effect<void, StoreUnavailable> => {
  const where = `Postgres at ${addressOf(sql)}`
  const timedOut = new StoreUnavailable({
    message: `cannot connect to ${where}: no Postgres answer within ${connectTimeoutMs} ms (DATABASE_CONNECT_TIMEOUT_MS)`
  })
  return Effect.tryPromise({
    try: () => sql`SELECT 1`,
    // the driver's own connect timeout and ours say the same thing, whichever fires first
    catch: (cause) =>
      typeof cause === "object" && cause !== null && "code" in cause && cause.code === "CONNECT_TIMEOUT"
        ? timedOut
        : storeUnavailable(`cannot connect to ${where}`, cause, secrets)
  }).pipe(Effect.timeoutFail({ duration: connectTimeoutMs, onTimeout: () => timedOut }), Effect.asVoid)
}

/**
 * DATABASE_SCHEMA names a schema of the database: otherwise every statement would fail later with Postgres' "no schema
 * has been selected to create in", naming neither the setting nor the schema. Names the database, not the URL.
 */
const schemaExists = (
  sql: postgres.Sql,
  schema: string,
  timeoutMs: number,
  secrets: ReadonlyArray<string>
): Effect.Effect<void, StoreUnavailable> =>
  Effect.tryPromise({
    try: () =>
      sql<Array<{ database: string; present: boolean }>>`
        SELECT current_database() AS database, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${schema}) AS present`,
    catch: (cause) => storeUnavailable(`cannot check DATABASE_SCHEMA ${schema}`, cause, secrets)
  }).pipe(
    Effect.timeoutFail({
      duration: timeoutMs,
      onTimeout: () =>
        new StoreUnavailable({ message: `cannot check DATABASE_SCHEMA ${schema}: no answer within ${timeoutMs} ms` })
    }),
    Effect.flatMap(([row]) =>
      row === undefined || row.present
        ? Effect.void
        : Effect.fail(
            new StoreUnavailable({
              message:
                `DATABASE_SCHEMA ${schema} does not exist in database ${row.database}; create it ` +
                `(CREATE SCHEMA ${schema}) or unset DATABASE_SCHEMA to use the database's default search_path`
            })
          )
    )
  )

/**
 * postgres.js, loaded when a pool is first made: it is an optional peer dependency of the library (the embedded
 * database and the memory stores do without it), so a missing install fails start-up naming the package.
 */
const loadDriver: Effect.Effect<typeof postgres, StoreUnavailable> = Effect.tryPromise({
  try: () => import("postgres").then((module) => module.default),
  catch: (error) => error
}).pipe(
  Effect.catchAll((error) =>
    missingPackageOf(error) === "postgres"
      ? new StoreUnavailable({
          message: `DATABASE_URL selects Postgres, whose client package postgres is not installed (${installHint("postgres")})`
        })
      : Effect.die(error)
  )
)

/**
 * A SqlClient over a postgres.js pool, closed (sql.end) when the scope closes. Its first connection is opened and
 * checked here, within the connect timeout: a wrong DATABASE_URL fails start-up at once, naming host and port.
 */
export const make = (options: PostgresOptions): Effect.Effect<SqlClient.Service, StoreUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const url = Redacted.value(options.url)
    const secrets = secretsOf(url)
    // given in code (layerPostgres), the URL is checked as DATABASE_URL is: a blank one would reach libpq's defaults
    const urlProblem = databaseUrlProblem(url)
    if (urlProblem !== undefined) return yield* new StoreUnavailable({ message: `DATABASE_URL ${urlProblem}` })
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      return yield* new StoreUnavailable({ message: `schema "${options.schema}" is not a plain lower-case identifier` })
    }
    const statementTimeoutMs = options.statementTimeoutMs ?? 5000
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
    const postgres = yield* loadDriver
    const open = () =>
      postgres(url, {
        max: options.poolSize ?? 10,
        connect_timeout: connectTimeoutMs / 1000,
        // notices such as "relation already exists, skipping" would otherwise go to console.log
        onnotice: () => {},
        ...(options.password === undefined ? {} : { password: options.password }),
        connection: {
          application_name: "revenueflow",
          statement_timeout: statementTimeoutMs,
          ...(options.schema === undefined ? {} : { search_path: options.schema })
        }
      })
    // until the first connection answered, closing must not wait for the pending one (SIGTERM during start-up)
    let connected = false
    // The pool in use; replaced when a connection has gone silent (see `answered`).
    const pool = yield* Effect.acquireRelease(
      Effect.try({
        try: () => ({ sql: open() }),
        // the driver's parse error may quote the URL, so it is not passed on
        catch: () => new StoreUnavailable({ message: "DATABASE_URL is not a valid Postgres connection URL" })
      }),
      (pool) => Effect.promise(() => pool.sql.end({ timeout: connected ? 5 : 0 }).catch(() => undefined))
    )
    // A refused login re-reads the credentials (SecretsRefresh coalesces a storm of them into one read); the reads
    // started from a driver's callback run in this scope, so none outlives the pool.
    const refreshAfter = (error: StoreUnavailable): Effect.Effect<boolean> =>
      options.refreshCredentials === undefined || !loginRefused(error)
        ? Effect.succeed(false)
        : Effect.as(
            Effect.zipRight(
              Effect.logWarning("Postgres refused the login; reading the credentials again"),
              options.refreshCredentials
            ),
            true
          )
    const runInScope = yield* FiberSet.makeRuntime<never>()
    /** A failed statement's error; a refused login also starts a refresh of the credentials. */
    const failed = (what: string, cause: unknown): StoreUnavailable => {
      const error = storeUnavailable(what, cause, secrets)
      if (loginRefused(error)) runInScope(refreshAfter(error))
      return error
    }

    yield* firstConnection(pool.sql, connectTimeoutMs, secrets).pipe(
      Effect.catchAll((error) =>
        Effect.flatMap(refreshAfter(error), (refreshed) =>
          refreshed ? firstConnection(pool.sql, connectTimeoutMs, secrets) : Effect.fail(error)
        )
      )
    )
    connected = true
    if (options.schema !== undefined) yield* schemaExists(pool.sql, options.schema, connectTimeoutMs, secrets)

    // The server cancels a statement after statement_timeout, and opening a connection gives up after
    // connect_timeout; no answer after both (plus a grace) means the connection itself is gone silent (a
    // partition, a failed-over primary: TCP may take minutes to notice). postgres.js would keep queueing later
    // queries on it, so the whole pool is replaced: the old one's queries fail (unanswered, nothing acknowledged)
    // and later ones open fresh connections.
    const answerTimeoutMs = statementTimeoutMs + connectTimeoutMs + 1000
    const answered = <A>(sql: postgres.Sql, effect: Effect.Effect<A, StoreUnavailable>) =>
      effect.pipe(
        Effect.timeout(answerTimeoutMs),
        Effect.catchTag("TimeoutException", () =>
          Effect.zipRight(
            Effect.suspend(() => {
              if (pool.sql !== sql) return Effect.void
              pool.sql = open()
              sql.end({ timeout: 0 }).catch(() => undefined)
              return Effect.logWarning("Postgres did not answer; reopening the connection pool").pipe(
                Effect.annotateLogs({ waitedMs: answerTimeoutMs })
              )
            }),
            Effect.fail(new StoreUnavailable({ message: `postgres: no answer within ${answerTimeoutMs} ms` }))
          )
        )
      )

    const queryOn =
      (conn: postgres.Sql | postgres.ReservedSql): Query =>
      <T>(text: string, params: ReadonlyArray<unknown> = []) =>
        Effect.tryPromise({
          // prepared: the same few statements run on every lead, so parsing and planning them once pays
          try: () => conn.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, { prepare: true }),
          catch: (cause) => failed("postgres", cause)
        }).pipe(Effect.map((rows) => Array.from(rows) as unknown as ReadonlyArray<T>))

    // Statements in flight with their deadline, checked by one timer: an Effect.timeout per statement (a fiber
    // racing a sleep) costs more CPU than the statement itself (docs/performance-log.md), on ~10 statements a lead.
    interface InFlight {
      readonly sql: postgres.Sql
      readonly deadline: number
      readonly fail: (error: StoreUnavailable) => void
    }
    const inFlight = new Set<InFlight>()
    const watchEveryMs = Math.min(1000, Math.max(50, Math.floor(answerTimeoutMs / 8)))
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const timer = setInterval(() => {
          const now = Date.now()
          for (const entry of inFlight) {
            if (entry.deadline > now) continue
            inFlight.delete(entry)
            if (pool.sql === entry.sql) {
              pool.sql = open()
              entry.sql.end({ timeout: 0 }).catch(() => undefined)
              runInScope(
                Effect.logWarning("Postgres did not answer; reopening the connection pool").pipe(
                  Effect.annotateLogs({ waitedMs: answerTimeoutMs })
                )
              )
            }
            entry.fail(new StoreUnavailable({ message: `postgres: no answer within ${answerTimeoutMs} ms` }))
          }
        }, watchEveryMs)
        timer.unref()
        return timer
      }),
      (timer) => Effect.sync(() => clearInterval(timer))
    )

    const query: Query = <T>(text: string, params: ReadonlyArray<unknown> = []) =>
      Effect.async<ReadonlyArray<T>, StoreUnavailable>((resume) => {
        const sql = pool.sql
        const entry: InFlight = {
          sql,
          deadline: Date.now() + answerTimeoutMs,
          fail: (error) => resume(Effect.fail(error))
        }
        inFlight.add(entry)
        // prepared: the same few statements run on every lead, so parsing and planning them once pays
        sql.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, { prepare: true }).then(
          (rows) => {
            if (inFlight.delete(entry)) resume(Effect.succeed(Array.from(rows) as unknown as ReadonlyArray<T>))
          },
          (cause) => {
            if (inFlight.delete(entry)) resume(Effect.fail(failed("postgres", cause)))
          }
        )
        return Effect.sync(() => {
          inFlight.delete(entry)
        })
      })

    // A reserved connection carries the transaction: a pooled query could land on any connection. Its statements
    // get no client-side deadline: migrations run longer than statement_timeout on purpose.
    const transaction: SqlClient.Service["transaction"] = (use) =>
      Effect.acquireUseRelease(
        Effect.suspend(() => {
          const sql = pool.sql
          return answered(
            sql,
            Effect.tryPromise({
              try: () => sql.reserve(),
              catch: (cause) => failed("postgres", cause)
            })
          )
        }),
        (conn) => {
          const tx = queryOn(conn)
          return tx("BEGIN").pipe(
            Effect.zipRight(use(tx)),
            Effect.tap(() => tx("COMMIT")),
            Effect.onError(() => tx("ROLLBACK").pipe(Effect.ignore))
          )
        },
        (conn) => Effect.sync(() => conn.release())
      )

    return SqlClient.of({ engine: "postgres", query, transaction })
  })

/** SqlClient over postgres.js. */
export const layer = (options: PostgresOptions): Layer.Layer<SqlClient, StoreUnavailable> =>
  Layer.scoped(SqlClient, make(options))

/** DATABASE_URL (secret), DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT_MS, DATABASE_CONNECT_TIMEOUT_MS, DATABASE_SCHEMA. */
export const config: Config.Config<PostgresOptions> = Config.all({
  url: databaseUrlConfig,
  poolSize: positiveInt("DATABASE_POOL_SIZE", 10),
  statementTimeoutMs: positiveInt("DATABASE_STATEMENT_TIMEOUT_MS", 5000),
  connectTimeoutMs: positiveInt("DATABASE_CONNECT_TIMEOUT_MS", 10_000),
  schema: Config.option(Config.string("DATABASE_SCHEMA")).pipe(Config.map(Option.getOrUndefined))
})

/** The password of a postgres:// URL, percent-decoded ("" when it has none or does not parse). */
const passwordOf = (url: string): string => {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ""
  }
}

/**
 * SqlClient over postgres.js, configured from the environment. Each new connection reads DATABASE_URL's current
 * password (the Secrets Manager overlay refreshes it), so a password rotation needs no restart; host, user and
 * database stay those of start-up. If the live read fails, the start-up password is used. A refused login re-reads
 * the secrets at once (SecretsRefresh, when provided), so a rotation costs seconds of refused connections, not the
 * refresh period.
 */
export const layerConfig: Layer.Layer<SqlClient, StoreUnavailable | ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const options = yield* checkedOr(config)
    const liveUrl = yield* liveRedacted("DATABASE_URL")
    const runtime = yield* Effect.runtime<never>()
    const initial = passwordOf(Redacted.value(options.url))
    const secretsRefresh = yield* Effect.serviceOption(SecretsRefresh)
    const password = () =>
      Runtime.runPromise(runtime)(
        liveUrl.pipe(
          Effect.map((url) => passwordOf(Redacted.value(url))),
          Effect.orElseSucceed(() => initial)
        )
      )
    return layer({
      ...options,
      password,
      refreshCredentials: Option.getOrUndefined(Option.map(secretsRefresh, (secrets) => secrets.refresh))
    })
  })
)
