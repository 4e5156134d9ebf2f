/**
 * The docs page and the console in a real browser: Debian's headless Chromium driven by playwright-core, with every
 * request that leaves this machine refused (and recorded: each test asserts there was none).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import { CrmPermanentError } from "../../services/CrmExecutor.js"
import { browser, offlinePage } from "../support/browser.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer } from "../support/pipeline.js"
import { withApi } from "./harness.js"

const inPage = <A>(run: () => Promise<A>) => Effect.promise(run)

/** Texts of the elements matching `selector`. */
const texts = (page: Page, selector: string) =>
  inPage(() => page.$$eval(selector, (nodes) => nodes.map((node) => node.textContent?.trim() ?? "")))

describe("in a browser, offline", () => {
  it.live(
    "/docs renders every route from files the ingest serves itself",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          yield* inPage(() => page.goto(`${api.base}/docs`))
          yield* inPage(() => page.waitForSelector(".opblock-summary-path", { timeout: 30_000 }))
          const paths = yield* texts(page, ".opblock-summary-path")
          expect(paths).toEqual(
            expect.arrayContaining([
              "/leads",
              "/leads/{id}",
              "/leads/{id}/audit",
              "/leads/{id}/replay",
              "/webhooks/marketo",
              "/webhooks/hubspot",
              "/dead-letters",
              "/ops/state",
              "/metrics"
            ])
          )
          expect(yield* texts(page, ".title")).toEqual(expect.arrayContaining([expect.stringContaining("RevenueFlow")]))
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    90_000
  )

  it.live(
    "the console shows a posted lead reaching SYNCED with its CRM actions and audit rows, PII masked",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          yield* startConsumer
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          yield* inPage(() => page.setViewportSize({ width: 1400, height: 1000 }))
          yield* inPage(() => page.goto(`${api.base}/console`))
          const lead = sampleLead({ company: "Northwind Analytics", phone: "+1 415 555 0100" })
          const posted = yield* api.postJson("/leads", lead)
          expect(posted.status).toBe(202)
          const id: string = posted.json.id
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${id}"] [data-status="SYNCED"]`, { timeout: 20_000 }))
          yield* inPage(() => page.click(`tr[data-lead="${id}"]`))
          yield* inPage(() => page.waitForSelector("#actions tr[data-action]", { timeout: 10_000 }))
          const tools = yield* inPage(() =>
            page.$$eval("#actions tr[data-action]", (rows) => rows.map((row) => row.getAttribute("data-action")))
          )
          expect(tools.length).toBeGreaterThan(0)
          expect(tools).toContain("upsert_lead")
          expect(yield* texts(page, "#actions [data-status]")).not.toContain("FAILED")
          const detail = yield* inPage(() => page.textContent("#detail"))
          expect(detail).toContain(id)
          expect(detail).toContain("Grounding")
          expect(detail).toContain("***@northwind-analytics.com")
          expect(detail).not.toContain(lead.email)
          expect(detail).not.toContain("555 0100")
          expect(detail).not.toContain("Lovelace")
          // the header shows this process's backends and queue
          expect(yield* inPage(() => page.textContent("#backends"))).toContain("in-memory queue")
          // CONSOLE_SCREENSHOT=docs/console.png refreshes the README's picture from this run
          const screenshot = process.env.CONSOLE_SCREENSHOT
          if (screenshot) yield* inPage(() => page.screenshot({ path: screenshot, fullPage: true }))
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    90_000
  )

  it.live(
    "a dead letter is replayed from its button in the console and then syncs",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          yield* startConsumer
          const crm = yield* MockCrmControl
          // the CRM refuses once, permanently: the lead is dead-lettered with the reason, and a replay succeeds
          yield* crm.failNext(new CrmPermanentError({ provider: "mock", message: "INVALID_FIELD: rejected for test" }))
          const posted = yield* api.postJson("/leads", sampleLead())
          const id: string = posted.json.id
          yield* awaitStatus(id, ["FAILED"])
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          yield* inPage(() => page.goto(`${api.base}/console`))
          const button = `tr[data-dead-letter="${id}"] button`
          yield* inPage(() => page.waitForSelector(button, { timeout: 10_000 }))
          expect(yield* inPage(() => page.textContent(`tr[data-dead-letter="${id}"]`))).toContain("INVALID_FIELD")
          yield* inPage(() => page.click(button))
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${id}"] [data-status="SYNCED"]`, { timeout: 20_000 }))
          expect(yield* inPage(() => page.textContent("#replay-message"))).toContain("queued again")
          yield* inPage(() => page.waitForSelector(button, { state: "detached", timeout: 10_000 }))
          expect((yield* api.get(`/leads/${id}`)).json.status).toBe("SYNCED")
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    90_000
  )
})
