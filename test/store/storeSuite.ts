import { afterAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { AuditLog } from "../../services/AuditLog.js"
import type { LeadStore } from "../../services/LeadStore.js"
import { auditLogCases } from "./auditLogCases.js"
import { leadStoreCases } from "./leadStoreCases.js"

/** How a backend is set up for the suite. */
export interface StoreBackend<R> {
  /** Built once for the whole suite (a database engine, or nothing). */
  readonly shared: Layer.Layer<R, unknown>
  /** Built before each test: the stores over an empty database, so tests never see each other's leads. */
  readonly fresh: Layer.Layer<LeadStore | AuditLog, unknown, R>
  /** Whether the audit log refuses a row naming no stored lead (SQL's foreign key; the memory log does not check). */
  readonly checksLeadIds?: boolean
}

/**
 * The behaviour every LeadStore + AuditLog backend must show. Tests run on the live clock (no TestClock): the SQL
 * stores age leads by the database's clock.
 */
export const storeSuite = <R>(name: string, backend: StoreBackend<R>) =>
  describe(name, () => {
    // not @effect/vitest's layer(): it overwrites the module-wide `it.effect`, breaking TestClock tests in the file
    const shared = ManagedRuntime.make(backend.shared)
    afterAll(() => shared.dispose(), 60_000)
    const test = (title: string, body: () => Effect.Effect<void, unknown, LeadStore | AuditLog>) =>
      it.live(title, () =>
        Effect.flatMap(shared.runtimeEffect, (runtime) =>
          body().pipe(Effect.provide(backend.fresh), Effect.provide(runtime))
        ).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
      )

    leadStoreCases(test)
    auditLogCases(test, { checksLeadIds: backend.checksLeadIds ?? true })
  })
