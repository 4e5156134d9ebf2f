import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { sha256Hex } from "../../src/domain/leadKey.js"
import { checkedOr, validated } from "../shared/config.js"
import {
  type CrmCall,
  type CrmError,
  CrmExecutor,
  CrmPermanentError,
  type CrmResult
} from "../../services/CrmExecutor.js"

/** What the mock CRM has been asked, and a way to make it fail. */
export interface MockCrm {
  /** Every call that reached the CRM, in order (including failed ones; the latest `journal`, 10,000 by default). */
  readonly calls: Effect.Effect<ReadonlyArray<CrmCall>>
  /** Calls that succeeded, i.e. side effects the CRM now holds. */
  readonly applied: Effect.Effect<ReadonlyArray<CrmCall>>
  /** Fail the next `times` calls with `error`. */
  readonly failNext: (error: CrmError, times?: number) => Effect.Effect<void>
  /** Forget calls and pending failures. */
  readonly reset: Effect.Effect<void>
}

/** Access to the mock CRM behind the CrmExecutor, for tests and the demo. */
export class MockCrmControl extends Context.Tag("revenueflow/MockCrmControl")<MockCrmControl, MockCrm>() {}

export interface MockCrmOptions {
  /** Simulated latency per call (benchmarks). */
  readonly latencyMs?: number
  /**
   * How many of the latest calls `calls` and `applied` keep (default 10,000): what tests and the demo inspect. 0
   * keeps none, for the programs (`layerConfig`), where nothing reads them: a real CRM client holds nothing after a
   * call, and a journal of tens of thousands of calls would be live heap every garbage collection marks.
   */
  readonly journal?: number
}

const idPrefix: Record<string, string> = {
  upsert_lead: "00Q",
  create_lead: "00Q",
  convert_lead: "003",
  create_contact: "003",
  match_account: "001",
  create_opportunity: "006",
  update_opportunity_stage: "006",
  create_task: "00T",
  log_activity: "00T"
}

/** Salesforce-looking ids derived from what the call is about: the same lead always gets the same id. */
const mockId = (call: CrmCall) => {
  const about =
    call.tool === "match_account"
      ? call.params.domain
      : idPrefix[call.tool] === "00Q" || !(call.tool in idPrefix)
        ? call.params.leadKey
        : call.actionKey
  return `${idPrefix[call.tool] ?? "00Q"}${sha256Hex(about).slice(0, 15)}`
}

/**
 * Mimics a CRM's own validation, so the demo and tests can show a permanent CRM rejection: addresses on the
 * reserved `.invalid` top-level domain are refused the way Salesforce refuses a bad email, address echoed included.
 */
const validate = (call: CrmCall): CrmPermanentError | undefined =>
  "email" in call.params && call.params.email.endsWith(".invalid")
    ? new CrmPermanentError({
        provider: "mock",
        status: 400,
        code: "INVALID_EMAIL_ADDRESS",
        message: `Email: invalid email address: ${call.params.email}`
      })
    : undefined

/** The journal keeps the most recent calls only, so a long-running embedded consumer does not grow without end. */
const JOURNAL_LIMIT = 10_000

/** Appends; the oldest calls are dropped in one cut at twice the limit, not one at a time (a 10,000-item shift). */
const remember = (journal: Array<CrmCall>, call: CrmCall, limit: number) => {
  if (limit === 0) return
  journal.push(call)
  if (journal.length >= 2 * limit) journal.splice(0, journal.length - limit)
}

/** The most recent `limit` calls, oldest first. */
const recent = (journal: ReadonlyArray<CrmCall>, limit: number) => (limit === 0 ? [] : journal.slice(-limit))

export const make = (options: MockCrmOptions = {}) =>
  Effect.sync(() => {
    const limit = options.journal ?? JOURNAL_LIMIT
    // plain arrays: appends are O(1) and nothing here can be interleaved (each step is synchronous)
    const calls: Array<CrmCall> = []
    const applied: Array<CrmCall> = []
    const failures: Array<CrmError> = []

    const execute = (call: CrmCall): Effect.Effect<CrmResult, CrmError> =>
      Effect.gen(function* () {
        if (options.latencyMs) yield* Effect.sleep(options.latencyMs)
        remember(calls, call, limit)
        const injected = failures.shift()
        if (injected !== undefined) return yield* Effect.fail(injected)
        const rejected = validate(call)
        if (rejected !== undefined) return yield* Effect.fail(rejected)
        remember(applied, call, limit)
        return { crmId: mockId(call), detail: { object: call.tool } }
      })

    const control: MockCrm = {
      calls: Effect.sync(() => recent(calls, limit)),
      applied: Effect.sync(() => recent(applied, limit)),
      failNext: (error, times = 1) =>
        Effect.sync(() => {
          for (let i = 0; i < times; i++) failures.push(error)
        }),
      reset: Effect.sync(() => {
        calls.length = 0
        applied.length = 0
        failures.length = 0
      })
    }
    return { executor: CrmExecutor.of({ provider: "mock", execute }), control }
  })

/** The mock CRM as both the CrmExecutor and its MockCrmControl. */
export const layerWith = (options: MockCrmOptions = {}) =>
  Layer.effectContext(
    Effect.map(make(options), ({ executor, control }) =>
      Context.make(CrmExecutor, executor).pipe(Context.add(MockCrmControl, control))
    )
  )

/** The mock CRM with no latency. */
export const layer = layerWith()

/**
 * The programs' mock CRM (CRM_PROVIDER unset): MOCK_CRM_LATENCY_MS of simulated latency per call (default 0), so
 * benchmarks can model a CRM, and no journal (nothing in a program reads it; tests use `layer` / `layerWith`).
 */
export const latencyConfig: Config.Config<number> = validated("MOCK_CRM_LATENCY_MS", Config.integer(), {
  message: "must be a whole number of milliseconds, 0 or more",
  validation: (n) => n >= 0
}).pipe(Config.withDefault(0))

export const layerConfig = Layer.unwrapEffect(
  Effect.map(checkedOr(latencyConfig), (latencyMs) => layerWith({ latencyMs, journal: 0 }))
)
