/**
 * The docs page and the console in a real browser: Debian's headless Chromium driven by playwright-core, with every
 * request that leaves this machine refused (and recorded: each test asserts there was none).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type { Page } from "playwright-core"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryQueue from "../../layers/memory/JobQueue.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import * as Metrics from "../../layers/observability/Metrics.js"
import { configFrom, liveClock, queueOptions, testEnv } from "../../layers/testing/memory.js"
import { errorText } from "../../src/domain/redact.js"
import { CircuitBreaker } from "../../services/CircuitBreaker.js"
import { CrmPermanentError } from "../../services/CrmExecutor.js"
import { LeadStore } from "../../services/LeadStore.js"
import { browser, offlinePage } from "../support/browser.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer } from "../support/pipeline.js"
import { withApi } from "./harness.js"

const inPage = <A>(run: () => Promise<A>) => Effect.promise(run)

/** What the ingest program runs on: stores, queue, metrics and config; no CRM and no breaker (the consumer's). */
const ingestEnv = () =>
  Layer.mergeAll(
    MemoryLeadStore.layer,
    MemoryAuditLog.layer,
    MemoryQueue.layer(queueOptions(testEnv)),
    Metrics.layerTest,
    configFrom(testEnv)
  ).pipe(Layer.provideMerge(liveClock))

/** A lead stored and dead-lettered at once (no consumer runs it). */
const deadLetter = (api: {
  postJson: (path: string, body: unknown) => Effect.Effect<{ json: { id: string } }, Error>
}) =>
  Effect.gen(function* () {
    const id: string = (yield* api.postJson("/leads", sampleLead())).json.id
    const store = yield* LeadStore
    yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
    return id
  })

/** Waits until the console has refreshed `times` more times (each refresh reads /ops/state). */
const refreshes = (page: Page, times: number) =>
  inPage(async () => {
    for (let i = 0; i < times; i++)
      await page.waitForResponse((response) => response.url().endsWith("/ops/state"), { timeout: 10_000 })
    // the response arrives before the page has drawn from it
    await page.waitForTimeout(200)
  })

/** The data-focus key of the element that has the keyboard focus, or its tag and id when it has none. */
const focused = (page: Page) =>
  inPage(() =>
    page.$eval("html", (html) => {
      const active = html.ownerDocument.activeElement
      return active?.getAttribute("data-focus") ?? `${active?.tagName}#${active?.id ?? ""}`
    })
  )

/** Waits until the lead detail shows this lead. */
const detailShows = (page: Page, id: string) =>
  inPage(() => page.locator("#detail h2 code", { hasText: id }).waitFor({ timeout: 10_000 }))

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

  it.live(
    "from the keyboard: every lead row opens with Tab and Enter, the refresh keeps focus, buttons name their lead",
    () =>
      withApi(ingestEnv(), (api) =>
        Effect.gen(function* () {
          const first: string = (yield* api.postJson("/leads", sampleLead())).json.id
          const dead = yield* deadLetter(api)
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          yield* inPage(() => page.setViewportSize({ width: 1400, height: 1000 }))
          yield* inPage(() => page.goto(`${api.base}/console`))
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${first}"]`, { timeout: 10_000 }))

          // Tab reaches the lead's row (its link), as it would any other lead's
          let reached = false
          for (let i = 0; i < 40 && !reached; i++) {
            yield* inPage(() => page.keyboard.press("Tab"))
            reached = (yield* focused(page)) === `lead:${first}`
          }
          expect(reached, "Tab never reached the lead's row").toBe(true)

          // a lead arriving meanwhile is drawn above it; the refreshes leave the focus where it was
          const later: string = (yield* api.postJson("/leads", sampleLead({ email: "later@globex.com" }))).json.id
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${later}"]`, { timeout: 10_000 }))
          yield* refreshes(page, 2)
          expect(yield* focused(page)).toBe(`lead:${first}`)

          // Enter opens it; the detail is not redrawn while the lead does not change
          yield* inPage(() => page.keyboard.press("Enter"))
          yield* detailShows(page, first)
          yield* inPage(() => page.$eval("#detail h2", (node) => node.setAttribute("data-marked", "")))
          yield* refreshes(page, 2)
          expect(yield* inPage(() => page.$$("#detail h2[data-marked]"))).toHaveLength(1)
          expect(yield* focused(page)).toBe(`lead:${first}`)

          // every Replay button and lead link is named with its lead
          const short = dead.slice(0, 8)
          expect(yield* inPage(() => page.getByRole("button", { name: `Replay lead ${short}` }).count())).toBe(1)
          expect(yield* inPage(() => page.getByRole("link", { name: `Open lead ${first.slice(0, 8)}` }).count())).toBe(
            1
          )

          // a lead is found by its id
          yield* inPage(() => page.getByLabel("Open a lead by id").fill(later))
          yield* inPage(() => page.keyboard.press("Enter"))
          yield* detailShows(page, later)

          // this ingest runs no breaker: the card says where the consumers' breakers are seen
          const card = yield* inPage(() => page.textContent("#breakers"))
          expect(card).toContain("revenueflow_circuit_breaker_state")
          expect(card).not.toContain("none in this process")

          // Replay from the keyboard: the focus stays on the button through the refreshes, and once the replayed
          // row is gone it lands on the list's heading, not on the page
          yield* inPage(() => page.getByRole("button", { name: `Replay lead ${short}` }).focus())
          yield* refreshes(page, 2)
          expect(yield* focused(page)).toBe(`replay:${dead}`)
          yield* inPage(() => page.keyboard.press("Enter"))
          yield* inPage(() =>
            page.waitForSelector(`tr[data-dead-letter="${dead}"]`, { state: "detached", timeout: 10_000 })
          )
          expect(yield* focused(page)).toBe("H2#dead-letters-heading")
          const message = yield* inPage(() => page.textContent("#replay-message"))
          expect(message).toContain("queued again")
          expect(message).not.toContain("runs now")
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    90_000
  )

  it.live(
    "the lead list shows one status when picked, and pages to older leads and back",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          const failed = yield* deadLetter(api)
          const queued: Array<string> = []
          for (let i = 0; i < 52; i++) {
            queued.push((yield* api.postJson("/leads", sampleLead({ email: `page${i}@globex.com` }))).json.id)
            yield* Effect.sleep("1 millis")
          }
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          const pageErrors: Array<string> = []
          page.on("pageerror", (error) => pageErrors.push(error.message))
          // an address whose lead id is not a valid escape opens no lead; the lists are drawn all the same
          yield* inPage(() => page.goto(`${api.base}/console#/leads/%E0%A4%A`))
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${queued[51]}"]`, { timeout: 10_000 }))
          const rows = () =>
            inPage(() =>
              page.$$eval("#leads tbody tr[data-lead]", (trs) => trs.map((tr) => tr.getAttribute("data-lead")))
            )
          // the newest 50: the first two posted (the dead letter, then queued[0] and queued[1]) wait on the next page
          expect(yield* rows()).toEqual(queued.slice(2).toReversed())
          yield* inPage(() => page.getByRole("button", { name: "Older" }).click())
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${failed}"]`, { timeout: 10_000 }))
          expect(yield* rows()).toEqual([queued[1], queued[0], failed])
          expect(yield* inPage(() => page.getByRole("button", { name: "Older" }).isDisabled())).toBe(true)
          yield* inPage(() => page.getByRole("button", { name: "Newest" }).click())
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${queued[51]}"]`, { timeout: 10_000 }))
          yield* inPage(() => page.getByLabel("Status").selectOption("FAILED"))
          yield* inPage(() =>
            page.waitForSelector(`tr[data-lead="${queued[51]}"]`, { state: "detached", timeout: 10_000 })
          )
          expect(yield* rows()).toEqual([failed])
          yield* inPage(() => page.getByLabel("Status").selectOption("SYNCED"))
          yield* inPage(() =>
            page.locator("#leads td.hint", { hasText: "No SYNCED leads." }).waitFor({ timeout: 10_000 })
          )
          // the header's counts stay exact below the ingest's bound
          expect(yield* inPage(() => page.textContent("#counts"))).toContain("QUEUED52")
          expect(pageErrors).toEqual([])
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    90_000
  )

  it.live(
    "with the CRM's breaker open, the console shows it and a replay does not promise to run now",
    () =>
      withApi(memoryEnv({ breaker: { consecutiveFailures: 1, probeSchedule: Schedule.spaced("10 minutes") } }), (api) =>
        Effect.gen(function* () {
          const breaker = yield* CircuitBreaker
          yield* Effect.ignore(breaker.protect("mock", Effect.fail("CRM down")))
          const dead = yield* deadLetter(api)
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          yield* inPage(() => page.goto(`${api.base}/console`))
          yield* inPage(() => page.waitForSelector('#breakers [data-status="open"]', { timeout: 10_000 }))
          expect(yield* inPage(() => page.textContent("#breaker-note"))).toContain("open (mock)")
          yield* inPage(() => page.getByRole("button", { name: `Replay lead ${dead.slice(0, 8)}` }).click())
          yield* inPage(() => page.locator("#replay-message", { hasText: "queued again" }).waitFor({ timeout: 10_000 }))
          const message = yield* inPage(() => page.textContent("#replay-message"))
          expect(message).toContain("queued again")
          expect(message).toContain("circuit breaker is open (mock)")
          expect(message).not.toContain("runs now")
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    90_000
  )
})
