import { describe, expect, it } from "@effect/vitest"
import { salesforceId18 } from "../../src/domain/salesforceId.js"
import { id18 } from "../fakes/salesforce.js"

describe("salesforceId18", () => {
  const ids = ["0015g00000XyZ12", "006FAKE00000001", "00Qab00000aBcDe", "001000000000000", "a0Bzz99999ZZZZZ"]

  it("gives a 15-character id its 18-character form, and leaves an 18-character one as it is", () => {
    for (const id of ids) {
      expect(salesforceId18(id)).toBe(id18(id))
      expect(salesforceId18(id18(id))).toBe(id18(id))
    }
  })

  it("reads an 18-character id however it is cased, as Salesforce does, back to the case its checksum records", () => {
    for (const id of ids) {
      expect(salesforceId18(id18(id).toLowerCase())).toBe(id18(id))
      expect(salesforceId18(id18(id).toUpperCase())).toBe(id18(id))
    }
  })

  it("leaves what is no Salesforce id unchanged, for the CRM to refuse by name", () => {
    for (const id of ["", "abc", "0015g00000XyZ1", "0015g00000XyZ12A", "0015g00000XyZ12ZZZ", "0015g00000XyZ12-AA"]) {
      expect(salesforceId18(id)).toBe(id)
    }
  })
})
