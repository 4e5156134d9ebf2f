import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type BedrockAnalyzerOptions, make } from "../../../layers/bedrock/Analyzer.js"
import type { Analysis } from "../../../src/domain/analysis.js"
import type { AnalysisInput } from "../../../services/Analyzer.js"
import { type BedrockReply, type FakeModel, fakeModels, makeFakeBedrock } from "../../fakes/bedrock.js"

/** Fake credentials and region for the SDK; nothing from the machine's AWS set-up leaks into a test. */
export const useFakeAws = () => {
  Object.assign(process.env, {
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIAFAKEBEDROCKTEST",
    AWS_SECRET_ACCESS_KEY: "fakeSecretKeyValue/DoNotLog+0123456789abcdef",
    AWS_EC2_METADATA_DISABLED: "true"
  })
  for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_MAX_ATTEMPTS"]) {
    delete process.env[name]
  }
}

export const modelId = "us.anthropic.claude-haiku-4-5-20251001-v1:0"

export const options: BedrockAnalyzerOptions = {
  modelId,
  timeoutMs: 5_000,
  maxAttempts: 2,
  decodeRetries: 2,
  maxTokens: 2048,
  throttleDelayMs: 7_000,
  http1: true
}

export const input: AnalysisInput = {
  leadId: "lead-1",
  lead: {
    email: "jane.doe@acme-robotics.com",
    campaignId: "spring-launch",
    title: "VP Engineering",
    company: "Acme Robotics",
    activity: { pageViews: 12, demoRequested: true }
  },
  enrichment: Option.some({ domain: "acme-robotics.com", name: "Acme Robotics", industry: "Software", employees: 850 })
}

export const goodAnalysis: Analysis = {
  fitScore: 82,
  intent: "High Fit",
  decision: "Route to SDR",
  reasoning: "Mid-size software company; the lead requested a demo.",
  evidence: [
    { source: "ENRICHMENT", fieldPath: "employees", value: 850, claimType: "FIRMOGRAPHIC" },
    { source: "MARKETING", fieldPath: "activity.demoRequested", value: true, claimType: "BEHAVIOR" }
  ]
}

/** A fake Bedrock plus an analyser pointed at it through AWS_ENDPOINT_URL_BEDROCK_RUNTIME (read by the SDK itself). */
export const setup = (
  fallback: BedrockReply,
  overrides: Partial<BedrockAnalyzerOptions> = {},
  models: Readonly<Record<string, FakeModel>> = fakeModels
) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeBedrock(fallback, models)
    delete process.env.AWS_ENDPOINT_URL
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = fake.url
    const analyzer = yield* make({ ...options, ...overrides })
    return { fake, analyzer }
  })

/** The parts of a Converse request body the tests look at. */
export interface WireMessage {
  readonly role: string
  readonly content: ReadonlyArray<{
    readonly text?: string
    readonly toolUse?: { readonly toolUseId: string; readonly input: unknown }
    readonly toolResult?: { readonly toolUseId: string; readonly status?: string }
  }>
}
export const messagesOf = (body: Record<string, unknown>): ReadonlyArray<WireMessage> =>
  body.messages as ReadonlyArray<WireMessage>
