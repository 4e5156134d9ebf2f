import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import {
  findDuplicateKey,
  findUnrepresentable,
  type JsonTextCounts,
  memberCount,
  scanJsonText
} from "../../src/http/jsonText.js"

/** How deep objects and arrays nest in a parsed value (a scalar: 0). */
const depthOf = (value: unknown): number =>
  typeof value === "object" && value !== null ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0

/** Text full of what a naive scan would miscount: brackets, quotes, backslashes, escapes, NUL, lone surrogates. */
const tricky = FastCheck.array(
  FastCheck.oneof(
    FastCheck.constantFrom("[", "]", "{", "}", '"', "\\", "\\u", "e", "1e9", "\u0000", "\ud83d\ude00", "ü"),
    FastCheck.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
    FastCheck.string({ maxLength: 4 })
  ),
  { maxLength: 12 }
).map((parts) => parts.join(""))

/** JSON values whose strings (keys too) are tricky and whose numbers are sometimes out of range. */
const values = FastCheck.letrec((tie) => ({
  value: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    tricky,
    FastCheck.double(),
    FastCheck.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, 12, true, null),
    FastCheck.array(tie("value"), { maxLength: 3 }),
    FastCheck.dictionary(tricky, tie("value"), { maxKeys: 3 })
  )
})).value

/** JSON text for a value: ±Infinity written as overflowing literals, \u escapes in either case. */
const toText = ([value, upper]: readonly [unknown, boolean]) => {
  const text = JSON.stringify(value, (_key, v) =>
    v === Number.POSITIVE_INFINITY ? "+INF" : v === Number.NEGATIVE_INFINITY ? "-INF" : v
  )
    .replaceAll('"+INF"', "1e309")
    .replaceAll('"-INF"', `-${"9".repeat(320)}`)
  return upper ? text.replace(/\\u([0-9a-f]{4})/g, (_m, hex: string) => `\\u${hex.toUpperCase()}`) : text
}

const texts = FastCheck.tuple(values, FastCheck.boolean()).map((pair) => ({ text: toText(pair), value: pair[0] }))

describe("scanJsonText", () => {
  it("finds exactly the nesting depth JSON.parse sees, whatever the strings hold", () => {
    FastCheck.assert(
      FastCheck.property(texts, FastCheck.integer({ min: 0, max: 6 }), ({ text }, limit) => {
        const depth = depthOf(JSON.parse(text))
        expect(scanJsonText(text, limit) === "too-deep", text).toBe(depth > limit)
      }),
      { numRuns: 500 }
    )
  })

  it("never skips the value walk for a body that holds something unrepresentable", () => {
    // the generator must keep producing such bodies, or this property checks nothing
    let unrepresentable = 0
    FastCheck.assert(
      FastCheck.property(texts, ({ text }) => {
        if (findUnrepresentable(JSON.parse(text)) === undefined) return
        unrepresentable++
        expect(scanJsonText(text, 64), text).toBe("check-values")
      }),
      { numRuns: 1000 }
    )
    expect(unrepresentable).toBeGreaterThan(100)
  })
})

describe("keys written twice in one object (JSON.parse keeps the last silently)", () => {
  const counted = (text: string) => {
    const counts: JsonTextCounts = { members: 0 }
    scanJsonText(text, 64, counts)
    return counts.members
  }

  it("the scan counts exactly the members JSON.parse keeps when no key is repeated, whatever the strings hold", () => {
    FastCheck.assert(
      FastCheck.property(texts, ({ text }) => {
        expect(counted(text), text).toBe(memberCount(JSON.parse(text)))
        expect(findDuplicateKey(text), text).toBe(undefined)
      }),
      { numRuns: 500 }
    )
  })

  it("a repeated key makes the counts differ, and is named with the object it is in, at any place", () => {
    const objects = FastCheck.dictionary(tricky, values, { minKeys: 1, maxKeys: 3 })
    FastCheck.assert(
      FastCheck.property(objects, FastCheck.nat(), (object, pick) => {
        const keys = Object.keys(object)
        const key = keys[pick % keys.length] as string
        // the object's text with that key written again at its end, then the same inside an object and an array
        const twice = `${JSON.stringify(object).slice(0, -1)},${JSON.stringify(key)} : 0}`
        for (const [text, path] of [
          [twice, "(root)"],
          [`{"outer": ${twice}}`, "outer"],
          [`{"list": [1, {"a": [2, 3]}, ${twice}]}`, "list.2"]
        ] as const) {
          // more than JSON.parse kept: the repeat, and any members of the value it replaced
          expect(counted(text), text).toBeGreaterThan(memberCount(JSON.parse(text)))
          expect(findDuplicateKey(text), text).toEqual({ key, path })
        }
      }),
      { numRuns: 300 }
    )
  })
})

describe("findUnrepresentable", () => {
  it("names the first offender in document order, keys included, at any depth without recursion", () => {
    expect(findUnrepresentable({ a: 1, b: [1, "x\u0000"], c: Number.NaN })).toEqual({ path: "b.1", kind: "text" })
    expect(findUnrepresentable({ a: { "\ud800": 1 }, b: Number.POSITIVE_INFINITY })).toEqual({
      path: "a.\ud800",
      kind: "text"
    })
    expect(findUnrepresentable({ ok: "\ud83d\ude00", n: [1, -Infinity] })).toEqual({ path: "n.1", kind: "number" })
    expect(findUnrepresentable(Number.POSITIVE_INFINITY)).toEqual({ path: "(root)", kind: "number" })
    let deep: unknown = "\udc00"
    for (let i = 0; i < 10_000; i++) deep = [deep]
    expect(findUnrepresentable(deep)?.kind).toBe("text")
    expect(findUnrepresentable({ fine: [1e308, "text", null, true] })).toBe(undefined)
  })
})
