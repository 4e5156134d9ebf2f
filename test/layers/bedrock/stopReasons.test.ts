import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { BedrockStopReason } from "../../fakes/bedrock.js"
import { goodAnalysis, input, messagesOf, setup, useFakeAws } from "./support.js"

useFakeAws()

describe("Bedrock analyser: stop reasons", () => {
  for (const stopReason of [
    "guardrail_intervened",
    "content_filtered",
    "model_context_window_exceeded"
  ] as const satisfies ReadonlyArray<BedrockStopReason>) {
    it.scopedLive(
      `${stopReason}: Manual Review after one call, naming the stop reason (a re-ask cannot change it)`,
      () =>
        Effect.gen(function* () {
          const { fake, analyzer } = yield* setup({ kind: "tool", input: goodAnalysis })
          fake.script({ kind: "stop", stopReason, text: "Sorry, the model cannot answer this." })
          const analysis = yield* analyzer.analyze(input)
          expect(fake.requests).toHaveLength(1)
          expect(analysis).toMatchObject({ fitScore: 0, intent: "Manual Review", decision: "Nurture", evidence: [] })
          expect(analysis.reasoning).toContain(`stopReason ${stopReason}`)
          expect(analysis.reasoning).toContain("not asked again")
        })
    )
  }

  it.scopedLive("a reply cut at max_tokens is not used even if it decodes: asked once more, shorter, without it", () =>
    Effect.gen(function* () {
      const { fake, analyzer } = yield* setup({ kind: "tool", input: goodAnalysis })
      fake.script({ kind: "tool", input: { ...goodAnalysis, fitScore: 99 }, stopReason: "max_tokens" })
      expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
      expect(fake.requests).toHaveLength(2)
      expect(fake.rejections).toEqual([])
      const [first, second] = fake.bodies().map(messagesOf)
      // the cut reply is not resent: the same single user turn, with a note to answer shorter
      expect(second!.map((m) => m.role)).toEqual(["user"])
      expect(second![0]!.content.slice(0, -1)).toEqual(first![0]!.content)
      expect(second![0]!.content.at(-1)?.text).toContain("cut off at the output limit of 2048 tokens")
    })
  )

  it.scopedLive("cut again, or with no re-ask left (BEDROCK_DECODE_RETRIES=0): Manual Review naming max_tokens", () =>
    Effect.gen(function* () {
      const cut = { kind: "tool", input: goodAnalysis, stopReason: "max_tokens" } as const
      const twice = yield* setup(cut)
      const analysis = yield* twice.analyzer.analyze(input)
      expect(twice.fake.requests).toHaveLength(2)
      expect(analysis).toMatchObject({ intent: "Manual Review", evidence: [] })
      expect(analysis.reasoning).toContain("stopReason max_tokens")
      expect(analysis.reasoning).toContain("after 2 attempt(s)")

      const none = yield* setup(cut, { decodeRetries: 0 })
      expect((yield* none.analyzer.analyze(input)).reasoning).toContain("stopReason max_tokens")
      expect(none.fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive("an answer longer than BEDROCK_MAX_TOKENS is cut by the fake and never accepted", () =>
    Effect.gen(function* () {
      const { fake, analyzer } = yield* setup({ kind: "tool", input: goodAnalysis }, { maxTokens: 100 })
      fake.script({ kind: "tool", input: { ...goodAnalysis, reasoning: "long ".repeat(200) } })
      expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive(
    "a cut after a correction turn re-asks a conversation Bedrock accepts (note after the toolResult)",
    () =>
      Effect.gen(function* () {
        const { fake, analyzer } = yield* setup({ kind: "tool", input: goodAnalysis })
        fake.script(
          { kind: "tool", input: { ...goodAnalysis, fitScore: 150 } },
          { kind: "tool", input: goodAnalysis, stopReason: "max_tokens" }
        )
        expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
        expect(fake.requests).toHaveLength(3)
        expect(fake.rejections).toEqual([])
        const last = messagesOf(fake.bodies()[2]!)
        expect(last.map((m) => m.role)).toEqual(["user", "assistant", "user"])
        expect(last[2]!.content[0]!.toolResult).toMatchObject({ toolUseId: "tooluse_1", status: "error" })
        expect(last[2]!.content.at(-1)?.text).toContain("cut off at the output limit")
      })
  )

  it.scopedLive(
    "re-asks with history Bedrock accepts when the reply had a blank text block and a non-object input",
    () =>
      Effect.gen(function* () {
        const { fake, analyzer } = yield* setup({ kind: "tool", input: goodAnalysis })
        fake.script({ kind: "tool", input: "{not json", text: "", stopReason: "malformed_tool_use" })
        expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
        expect(fake.rejections).toEqual([])
        const resent = messagesOf(fake.bodies()[1]!)[1]!
        expect(resent).toEqual({
          role: "assistant",
          content: [{ toolUse: { toolUseId: "tooluse_1", name: "record_lead_analysis", input: {} } }]
        })
      })
  )
})
