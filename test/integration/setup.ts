import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { auditSignature, countActions, explainedByKill } from "../../scripts/lib/crmLedger.js"
import { type CrmProxy, startCrmProxy } from "../../scripts/lib/crmProxy.js"
import { succeededActions } from "../../scripts/lib/db.js"
import { type Isolation, type IsolationOptions, makeIsolation } from "../../scripts/lib/isolation.js"
import { leadBody } from "../../scripts/lib/leads.js"
import { hubSpotEnv, programEnv } from "../../scripts/lib/stack.js"
import { type FakeHubSpot, startFakeHubSpot } from "../fakes/hubspot.js"

/**
 * The fake HubSpot in this process, closed with the scope. Its burst limit is far above HubSpot's (these runs are
 * about faults and exactly-once, at volume); the programs are told the same limit (hubSpotEnv).
 */
export const fakeHubSpot = Effect.acquireRelease(
  Effect.promise(() => startFakeHubSpot({ burstLimit: 100_000 })),
  (fake) => Effect.promise(() => fake.close())
)

/** One isolated run: schema + Redis prefix, a fake HubSpot behind a recording proxy, and the programs' env. */
export interface Run {
  readonly iso: Isolation
  readonly fake: FakeHubSpot
  readonly crm: CrmProxy
  readonly env: Record<string, string>
  /** `count` lead bodies unique to this run. */
  readonly leads: (count: number, from?: number) => ReadonlyArray<ReturnType<typeof leadBody>>
}

/** Set up a run; `extra` env wins over the defaults of programEnv. */
export const makeRun = (extra: Record<string, string> = {}, isolation: IsolationOptions = {}) =>
  Effect.gen(function* () {
    const iso = yield* makeIsolation(isolation)
    const fake = yield* fakeHubSpot
    const crm = yield* startCrmProxy(fake.url)
    const env = programEnv(iso, hubSpotEnv(crm.url), extra)
    const tag = iso.prefix.slice(-10)
    const leads = (count: number, from = 0) => Array.from({ length: count }, (_, i) => leadBody(tag, from + i))
    return { iso, fake, crm, env, leads } satisfies Run
  })

/**
 * Nothing repeated at the CRM: every action that took effect did so once (a repeat is tolerated only when the SIGKILL
 * of a program in `killed`, named by its CRM entrance, explains it: at most `maxExplained` of them), the CRM's
 * actions are exactly the audit log's SUCCEEDED rows, and the fake holds one contact per lead and one engagement per
 * SUCCEEDED engagement action.
 */
export const expectNothingRepeated = (run: Run, leads: number, killed: ReadonlyArray<string> = [], maxExplained = 0) =>
  Effect.gen(function* () {
    const counted = countActions(run.crm.effective())
    const unexplained = counted.repeated.filter((a) => !explainedByKill(a, killed))
    expect(unexplained.map((a) => `${a.key} x${a.records.length}`)).toEqual([])
    expect(counted.repeated.length).toBeLessThanOrEqual(maxExplained)
    const audit = yield* Effect.promise(() => succeededActions(run.iso.sql))
    expect(new Set(counted.actions.map((a) => a.key))).toEqual(new Set(audit.map(auditSignature)))
    // The fake itself keeps emails and action keys unique (as HubSpot does), so a repeat shows as more objects than
    // the audit log's actions: a contact per lead, and an engagement per SUCCEEDED action that makes one (an action
    // resent under another key would make a second).
    const contacts = run.fake.records.contacts ?? []
    expect(contacts).toHaveLength(leads)
    for (const [type, tool] of [
      ["notes", "log_activity"],
      ["tasks", "create_task"]
    ] as const)
      expect(run.fake.records[type] ?? [], type).toHaveLength(audit.filter((row) => row.tool === tool).length)
    return counted
  })

/** Poll until `check` is true or `timeoutMs` passes; whether it became true. */
export const eventually = (check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await check()) return true
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
    return await check()
  })
