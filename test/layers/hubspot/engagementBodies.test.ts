import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { shownText } from "../../fakes/hubspot.js"
import { call, ref, setup } from "./support.js"

/** Text as RevenueFlow writes it: lines, and a lead's (or a provider's) text that looks like markup. */
const summary = [
  "High Fit, fit 88/100: Route to SDR.",
  "Verified facts:",
  '- FIRMOGRAPHIC: ENRICHMENT industry = "R&D <b>Labs</b>"',
  "- BEHAVIOR: MARKETING utmCampaign = <script>alert(1)</script> & 5 > 3"
].join("\n")

describe("note and task bodies (HTML in HubSpot)", () => {
  it.scopedLive("are shown as written: each line its own, a lead's < and & as text, never as markup", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(
        call({ tool: "log_activity", params: { ...ref, subject: "RevenueFlow: High Fit", description: summary } })
      )
      yield* crm.execute(
        call({ tool: "create_task", params: { ...ref, subject: "Follow up", description: summary, priority: "High" } })
      )
      const note = fake.records.notes![0]!.properties.hs_note_body!
      const task = fake.records.tasks![0]!.properties.hs_task_body!
      expect(shownText(note)).toBe(`RevenueFlow: High Fit\n\n${summary}`)
      expect(shownText(task)).toBe(summary)
      for (const body of [note, task]) {
        expect(body).not.toContain("<b>")
        expect(body).not.toContain("<script>")
        expect(body).toContain("R&amp;D &lt;b&gt;Labs&lt;/b&gt;")
        expect(body).toContain("&quot;")
      }
      // a task without a description has no body
      yield* crm.execute(call({ tool: "create_task", params: { ...ref, subject: "Call back", priority: "Low" } }))
      expect(fake.records.tasks![1]!.properties).not.toHaveProperty("hs_task_body")
    })
  )

  it("the fake shows HTML as a browser does: newlines collapse, <br> and paragraphs break lines", () => {
    expect(shownText("a\n\nb")).toBe("a b")
    expect(shownText("<p>a</p><p>b &amp; <i>c</i></p>")).toBe("a\nb & c")
    expect(shownText("a<br><br/>b &lt;x&gt;")).toBe("a\n\nb <x>")
  })
})
