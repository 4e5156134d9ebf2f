import * as Effect from "effect/Effect"
import { type Browser, chromium, type Page } from "playwright-core"

/** Debian's chromium (installed by .ci/run); playwright-core drives it and downloads no browser of its own. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

/** Flags for a closed network: nothing phones home (no QUIC, sync, component updates or background fetches). */
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage"
]

/** A headless Chromium for the current scope (playwright gives it a fresh profile folder and removes it after). */
export const browser: Effect.Effect<Browser, Error, import("effect/Scope").Scope> = Effect.acquireRelease(
  Effect.tryPromise({
    try: () => chromium.launch({ executablePath: chromiumPath, args, timeout: 60_000 }),
    catch: (error) => new Error(`cannot start ${chromiumPath}: ${String(error)}`)
  }),
  (launched) => Effect.promise(() => launched.close())
)

/**
 * A page whose requests to anything but this machine are refused and recorded (the test asserts none were made), with
 * what the page's Content-Security-Policy refused (Chromium reports each on the console; the test asserts none).
 */
export const offlinePage = (launched: Browser) =>
  Effect.promise(async () => {
    const page: Page = await launched.newPage()
    const blocked: Array<string> = []
    const refusedByPolicy: Array<string> = []
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) refusedByPolicy.push(message.text())
    })
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url())
      if (["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) return route.continue()
      blocked.push(url.href)
      return route.abort("internetdisconnected")
    })
    return { page, blocked, refusedByPolicy }
  })
