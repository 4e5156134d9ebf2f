import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Logger from "effect/Logger"
import { jsonLogger, prettyLogger } from "../../layers/observability/Logger.js"
import { Email } from "../../src/domain/lead.js"

/** The lines `logger` writes for `effect`. */
const linesOf = (logger: Logger.Logger<unknown, string>, effect: Effect.Effect<void>) => {
  const lines: Array<string> = []
  Effect.runSync(
    effect.pipe(
      Effect.provide(
        Logger.replace(
          Logger.defaultLogger,
          Logger.map(logger, (line) => {
            lines.push(line)
          })
        )
      )
    )
  )
  return lines
}

describe("log lines never carry an address the lead schema accepts", () => {
  it("a CRM error echoing the address, in the message, an annotation and the cause", () => {
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(Email), (email) => {
        const domain = email.slice(email.lastIndexOf("@") + 1)
        const echoed = `Email: invalid email address: ${email}`
        const log = Effect.logWarning(`CRM rejected the request: ${echoed}`, Cause.fail(new Error(echoed))).pipe(
          Effect.annotateLogs({ reason: echoed, lead: { email } })
        )
        const [line] = linesOf(jsonLogger, log)
        // (an address of asterisks, "*@x.de", is inside its own mask "***@x.de": masks are taken out first)
        expect(line!.replaceAll("***@", "@")).not.toContain(email)
        const entry = JSON.parse(line!) as Record<string, unknown>
        expect(entry.message).toBe(`CRM rejected the request: Email: invalid email address: ***@${domain}`)
        expect(entry.reason).toBe(`Email: invalid email address: ***@${domain}`)
        expect(entry.lead).toEqual({ email: `***@${domain}` })
        expect(String(entry.cause).split("\n")[0]).toBe(`Error: Email: invalid email address: ***@${domain}`)
        const [pretty] = linesOf(prettyLogger, log)
        expect(pretty!.replaceAll("***@", "@")).not.toContain(email)
      }),
      { numRuns: 300 }
    )
  })
})
