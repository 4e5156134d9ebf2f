import { describe, expect, it } from "@effect/vitest"
import { toAnalysisError } from "../../layers/bedrock/converse.js"
import { redactTextFor } from "../../src/domain/redact.js"

/** A Bedrock ValidationException quoting the prompt: the lead's names, email and phone in it. */
const quoting = {
  name: "ValidationException",
  $metadata: { httpStatusCode: 400 },
  message:
    "Malformed input request: the text 'Lead: Grace Hopper, grace.hopper@globex.com, 4155550100, +1 415 555 0100' " +
    "exceeds the limit"
}

describe("a Bedrock refusal quoting the lead", () => {
  it("is masked with the lead's own names and phone when the caller passes them", () => {
    const error = toAnalysisError(
      quoting,
      1000,
      "model-x",
      redactTextFor({ firstName: "Grace", lastName: "Hopper", phone: "+1 415 555 0100" })
    )
    expect(error._tag).toBe("JobPermanent")
    const reason = "reason" in error ? error.reason : ""
    expect(reason).toContain("'Lead: *** ***, ***@globex.com, [phone], [phone]' exceeds the limit")
    expect(reason).toContain("Check BEDROCK_MODEL_ID=model-x")
  })

  it("a transient failure's message is masked too, and masked before it is cut", () => {
    const error = toAnalysisError(
      {
        name: "InternalServerException",
        $metadata: { httpStatusCode: 500 },
        message: `${"x".repeat(180)} jane.doe@acme.com`
      },
      1000,
      "model-x"
    )
    expect(error._tag).toBe("AnalysisFailed")
    const message = "message" in error ? error.message : ""
    expect(message).not.toContain("jane")
    expect(message).not.toContain("doe@")
  })
})
