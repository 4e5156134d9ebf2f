import * as FastCheck from "effect/FastCheck"
import { MAX_JSON_DEPTH } from "../../src/http/body.js"

/** Request bodies that probe the body reader's limits, shared by the intake suites. */

/** `depth` levels of arrays and objects (in the order `kinds` gives, cycled) around `inner`. */
export const nested = (depth: number, kinds: ReadonlyArray<boolean>, inner = "1") => {
  let open = ""
  let close = ""
  for (let level = 0; level < depth; level++) {
    const array = kinds[level % kinds.length] ?? true
    open += array ? "[" : '{"k":'
    close = (array ? "]" : "}") + close
  }
  return open + inner + close
}

/** A JSON value nested past the limit, a few thousand levels at most (a few KB, far under MAX_BODY_BYTES). */
export const tooDeep = FastCheck.tuple(
  FastCheck.integer({ min: MAX_JSON_DEPTH + 1, max: 3000 }),
  FastCheck.array(FastCheck.boolean(), { minLength: 1, maxLength: 5 })
).map(([depth, kinds]) => nested(depth, kinds))

/** Byte sequences that are not UTF-8: overlong forms, encoded surrogates, bytes that never occur, cut sequences. */
export const invalidUtf8 = FastCheck.oneof(
  FastCheck.integer({ min: 0x80, max: 0xbf }).map((b) => [b]), // a continuation byte with no lead
  FastCheck.constantFrom([0xff], [0xfe], [0xff, 0xfe], [0xfe, 0xff], [0xc0, 0x80], [0xc1, 0xbf]),
  FastCheck.integer({ min: 0xf5, max: 0xff }).map((b) => [b, 0x80, 0x80, 0x80]), // past U+10FFFF's lead bytes
  FastCheck.tuple(FastCheck.integer({ min: 0x80, max: 0x9f }), FastCheck.integer({ min: 0x80, max: 0xbf })).map(
    ([b, c]) => [0xe0, b, c] // overlong 3-byte
  ),
  FastCheck.integer({ min: 0x80, max: 0x8f }).map((b) => [0xf0, b, 0x80, 0x80]), // overlong 4-byte
  FastCheck.tuple(FastCheck.integer({ min: 0xa0, max: 0xbf }), FastCheck.integer({ min: 0x80, max: 0xbf })).map(
    ([b, c]) => [0xed, b, c] // an encoded surrogate (U+D800..U+DFFF)
  ),
  FastCheck.integer({ min: 0x90, max: 0xbf }).map((b) => [0xf4, b, 0x80, 0x80]), // above U+10FFFF
  FastCheck.constantFrom([0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]) // a multi-byte sequence cut short
)

/** Number literals JSON.parse turns into ±Infinity. */
export const overflowing = FastCheck.oneof(
  FastCheck.tuple(
    FastCheck.constantFrom("", "-"),
    FastCheck.integer({ min: 1, max: 9 }),
    FastCheck.integer({ min: 309, max: 99999 })
  ).map(([sign, digit, exp]) => `${sign}${digit}e${exp}`),
  FastCheck.tuple(FastCheck.constantFrom("", "-"), FastCheck.integer({ min: 310, max: 400 })).map(
    ([sign, digits]) => `${sign}9${"0".repeat(digits - 1)}`
  ),
  FastCheck.constantFrom("1E+400", "-2.5e+999", "0.1e310")
)
