import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import { StoreUnavailable } from "../../services/LeadStore.js"

/** Runs one parameterised statement ($1, $2, ...); jsonb comes back parsed, timestamptz as Date. */
export type Query = <T = Record<string, unknown>>(
  text: string,
  params?: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<T>, StoreUnavailable>

export declare namespace SqlClient {
  export interface Service {
    /** Which engine answers: the SQL is the same, this is for logs and diagnostics. */
    readonly engine: "postgres" | "pglite"
    readonly query: Query
    /**
     * Runs `use` in one transaction on one connection: commit on success, rollback on failure or interruption.
     * Statements inside must go through the `tx` query it is given, not the client's own.
     */
    readonly transaction: <A, E, R>(
      use: (tx: Query) => Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | StoreUnavailable, R>
  }
}

/** The smallest SQL surface the Postgres-backed stores need, so one implementation runs on postgres.js and PGlite. */
export class SqlClient extends Context.Tag("revenueflow/SqlClient")<SqlClient, SqlClient.Service>() {}

/**
 * Turns a driver error into StoreUnavailable. Only the SQLSTATE / errno code and the driver's message survive,
 * and every secret given (password, URL) is scrubbed from that message in case a driver ever echoes it.
 */
export const storeUnavailable = (
  what: string,
  cause: unknown,
  secrets: ReadonlyArray<string> = []
): StoreUnavailable => {
  const raw = cause instanceof Error ? cause.message : String(cause)
  const code =
    typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
      ? cause.code
      : undefined
  const message = secrets
    .filter((secret) => secret.length > 0)
    .reduce((text, secret) => text.split(secret).join("[redacted]"), raw)
  // a SQLSTATE is five characters of digits and capitals; errno codes (ECONNREFUSED...) are not SQLSTATEs
  const sqlState = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
  return new StoreUnavailable({
    message: `${what}${code === undefined ? "" : ` [${code}]`}: ${message}`,
    ...(sqlState === undefined ? {} : { sqlState })
  })
}
