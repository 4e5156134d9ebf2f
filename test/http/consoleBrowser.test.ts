/**
 * The console in a real browser (Debian's headless Chromium through playwright-core, every request off this machine
 * refused) when the ingest answers slowly, when dead letters outnumber the list, and when the lead filter changes
 * under a click on Older. The API's answers are delayed from the browser's side (page.route): the real server serves
 * the page and answers every request.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import { errorText } from "../../src/domain/redact.js"
import { LeadStore } from "../../services/LeadStore.js"
import { browser, offlinePage } from "../support/browser.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { withApi } from "./harness.js"

const inPage = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A lead stored and dead-lettered at once (no consumer runs it). */
const deadLetter = (
  api: { postJson: (path: string, body: unknown) => Effect.Effect<{ json: { id: string } }, Error> },
  email = "grace@globex.com"
) =>
  Effect.gen(function* () {
    const id: string = (yield* api.postJson("/leads", sampleLead({ email }))).json.id
    const store = yield* LeadStore
    yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
    return id
  })

/** The routes the console reads (not its own files). */
const isApi = (url: string) => /^\/(leads|dead-letters|ops\/state)/.test(new URL(url).pathname)

/**
 * Holds the console's API requests for `delay.ms` before they go to the server, and counts how many are in flight
 * from the page's side (asked and neither answered nor given up), keeping the most seen at once.
 */
const slowApi = (page: Page) =>
  inPage(async () => {
    const delay = { ms: 0 }
    const seen = { inFlight: 0, most: 0, asked: 0 }
    page.on("request", (request) => {
      if (!isApi(request.url())) return
      seen.asked++
      seen.inFlight++
      seen.most = Math.max(seen.most, seen.inFlight)
    })
    const settled = (request: { url: () => string }) => {
      if (isApi(request.url())) seen.inFlight--
    }
    page.on("requestfinished", settled)
    page.on("requestfailed", settled)
    // registered after offlinePage's: it runs first, then hands the request on to it
    await page.route("**/*", async (route) => {
      const request = route.request()
      if (isApi(request.url()) && request.method() === "GET" && delay.ms > 0)
        await new Promise((resolve) => setTimeout(resolve, delay.ms))
      // the page may have given the request up meanwhile
      await route.fallback().catch(() => undefined)
    })
    return { delay, seen }
  })

/** The ids of the leads listed, top to bottom. */
const rows = (page: Page) =>
  inPage(() => page.$$eval("#leads tbody tr[data-lead]", (trs) => trs.map((tr) => tr.getAttribute("data-lead"))))

/** The data-focus key of the element that has the keyboard focus, or its tag and id when it has none. */
const focused = (page: Page) =>
  inPage(() =>
    page.$eval("html", (html) => {
      const active = html.ownerDocument.activeElement
      return active?.getAttribute("data-focus") ?? `${active?.tagName}#${active?.id ?? ""}`
    })
  )

describe("the console in a browser, offline", () => {
  it.live(
    "when the ingest answers slowly, refreshes do not pile up: a few requests at a time, and the page says it is slow, then unavailable, then recovers",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          const dead = yield* deadLetter(api)
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          const { delay, seen } = yield* slowApi(page)
          yield* inPage(() => page.goto(`${api.base}/console#/leads/${dead}`))
          yield* inPage(() => page.waitForSelector(`tr[data-dead-letter="${dead}"]`, { timeout: 10_000 }))
          yield* inPage(() => page.locator("#detail h2 code", { hasText: dead }).waitFor({ timeout: 10_000 }))
          expect(yield* inPage(() => page.isHidden("#connection"))).toBe(true)

          // every answer now takes 6 s: three times the refresh interval, within the requests' deadline
          delay.ms = 6000
          seen.most = seen.inFlight
          const askedBefore = seen.asked
          yield* inPage(() => page.waitForTimeout(16_000))
          // one refresh at a time: its four reads (state, leads, dead letters, the lead open), never a growing queue
          expect(
            seen.most,
            `requests in flight at once (${seen.asked - askedBefore} asked in 16 s)`
          ).toBeLessThanOrEqual(4)
          expect(seen.asked - askedBefore).toBeGreaterThan(0)
          const slow = yield* inPage(() => page.locator("#connection").textContent())
          expect(slow).toContain("slow to answer")
          expect(slow).toContain("What is shown is from")
          // the page still shows what it had
          expect(yield* inPage(() => page.isVisible(`tr[data-dead-letter="${dead}"]`))).toBe(true)

          // answers that never come in time: each read is given up at its deadline, and the page says so
          delay.ms = 60_000
          yield* inPage(() => page.locator('#connection[data-state="unavailable"]').waitFor({ timeout: 40_000 }))
          const unavailable = yield* inPage(() => page.locator("#connection").textContent())
          expect(unavailable).toContain("The ingest is unavailable")
          expect(unavailable).toContain("no answer within 10 s")
          expect(unavailable).toContain("What is shown is from")
          expect(seen.most).toBeLessThanOrEqual(4)

          // answers again: the notice goes once a refresh gets every answer
          delay.ms = 0
          yield* inPage(() => page.locator("#connection").waitFor({ state: "hidden", timeout: 30_000 }))
          expect(seen.most).toBeLessThanOrEqual(4)
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    120_000
  )

  it.live(
    "with more dead letters than the list holds, the console says how many and a FAILED lead is replayed from its own view",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          const failed: Array<string> = []
          for (let i = 0; i < 52; i++) {
            failed.push(yield* deadLetter(api, `dead${i}@globex.com`))
            yield* Effect.sleep("1 millis")
          }
          const newest = failed[51]!
          const short = newest.slice(0, 8)
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          const pageErrors: Array<string> = []
          page.on("pageerror", (error) => pageErrors.push(error.message))
          yield* inPage(() => page.setViewportSize({ width: 1400, height: 1000 }))
          yield* inPage(() => page.goto(`${api.base}/console`))
          yield* inPage(() => page.waitForSelector(`tr[data-dead-letter="${failed[0]}"]`, { timeout: 10_000 }))
          // the oldest 50 are listed: the newest two are not, and the page says there are more
          yield* inPage(() =>
            page.locator("#dead-letters-more", { hasText: "The oldest 50 of 52 dead letters." }).waitFor({
              timeout: 10_000
            })
          )
          expect(yield* inPage(() => page.$$(`tr[data-dead-letter="${newest}"]`))).toHaveLength(0)

          // the FAILED leads, newest first, from the note's button; the newest opens with its own Replay
          yield* inPage(() => page.getByRole("button", { name: "List FAILED leads, newest first" }).click())
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${newest}"]`, { timeout: 10_000 }))
          expect((yield* rows(page))[0]).toBe(newest)
          expect(yield* inPage(() => page.getByLabel("Status").inputValue())).toBe("FAILED")
          yield* inPage(() => page.click(`tr[data-lead="${newest}"]`))
          const replayButton = page.locator("#detail").getByRole("button", { name: `Replay lead ${short}` })
          yield* inPage(() => replayButton.waitFor({ timeout: 10_000 }))

          // from the keyboard: Enter on it replays the lead; the view then shows it QUEUED, says what happened, and
          // the focus is on the view's heading (the button is gone with the FAILED status)
          yield* inPage(() => replayButton.focus())
          yield* inPage(() => page.keyboard.press("Enter"))
          yield* inPage(() =>
            page.locator("#detail [data-replay-note]", { hasText: "queued again" }).waitFor({ timeout: 10_000 })
          )
          yield* inPage(() => page.locator('#detail [data-status="QUEUED"]').first().waitFor({ timeout: 10_000 }))
          yield* inPage(() => replayButton.waitFor({ state: "detached", timeout: 10_000 }))
          expect(yield* focused(page)).toBe("H2#detail-heading")
          expect(yield* inPage(() => page.textContent("#replay-message"))).toContain(`Lead ${short} queued again`)
          expect((yield* api.get(`/leads/${newest}`)).json.status).toBe("QUEUED")
          yield* inPage(() =>
            page.locator("#dead-letters-more", { hasText: "The oldest 50 of 51 dead letters." }).waitFor({
              timeout: 10_000
            })
          )

          // a lead that is not FAILED has no Replay in its view
          expect(yield* inPage(() => page.locator("#detail").getByRole("button").count())).toBe(0)
          expect(pageErrors).toEqual([])
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    120_000
  )

  it.live(
    "Older right after a change of the status filter does not follow the previous filter's page: the newest leads of the new filter are shown",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          const oldestFailed = yield* deadLetter(api, "old@globex.com")
          const queued: Array<string> = []
          for (let i = 0; i < 52; i++) {
            queued.push((yield* api.postJson("/leads", sampleLead({ email: `page${i}@globex.com` }))).json.id)
            yield* Effect.sleep("1 millis")
          }
          const newerFailed = yield* deadLetter(api, "new1@globex.com")
          yield* Effect.sleep("1 millis")
          const newestFailed = yield* deadLetter(api, "new2@globex.com")
          const { page, blocked, refusedByPolicy } = yield* offlinePage(yield* browser)
          const pageErrors: Array<string> = []
          page.on("pageerror", (error) => pageErrors.push(error.message))
          const { delay } = yield* slowApi(page)
          yield* inPage(() => page.goto(`${api.base}/console`))
          // the newest 50 of every status: both newer FAILED leads, then queued leads down to queued[4]
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${newestFailed}"]`, { timeout: 10_000 }))
          yield* inPage(() => page.waitForSelector("#leads-older:not([disabled])", { timeout: 10_000 }))
          expect((yield* rows(page)).slice(0, 3)).toEqual([newestFailed, newerFailed, queued[51]])

          // the server now takes a while to answer: the operator picks FAILED and clicks Older before it has
          delay.ms = 1500
          yield* inPage(() => page.getByLabel("Status").selectOption("FAILED"))
          expect(yield* inPage(() => page.getByRole("button", { name: "Older" }).isDisabled())).toBe(true)
          yield* inPage(() => page.getByRole("button", { name: "Older" }).click({ force: true }))
          yield* inPage(() => page.waitForSelector(`tr[data-lead="${oldestFailed}"]`, { timeout: 20_000 }))
          // whatever refresh was still out has been drawn, and the list stays as it is
          yield* inPage(() => page.waitForTimeout(5000))
          expect(yield* rows(page)).toEqual([newestFailed, newerFailed, oldestFailed])
          expect(yield* inPage(() => page.getByRole("button", { name: "Older" }).isDisabled())).toBe(true)
          expect(pageErrors).toEqual([])
          expect(blocked).toEqual([])
          expect(refusedByPolicy).toEqual([])
        })
      ),
    120_000
  )
})
