import { describe, expect, it } from "@effect/vitest"
import { wholeNumberOption, wholeNumbersOption } from "../../scripts/bench/lib/args.js"

// The benchmarks' numeric options: a typo must stop the run, not measure with NaN (`--seconds 5s` once ran a
// one-second phase without a word, `--leads abc` a run of no leads whose CPU was reported per lead).
describe("benchmark options", () => {
  it("reads a whole number, or the fallback when the option is absent", () => {
    expect(wholeNumberOption(["--seconds", "12"], "--seconds", 5, 1)).toBe(12)
    expect(wholeNumberOption(["--warmup", "0"], "--warmup", 3, 0)).toBe(0)
    expect(wholeNumberOption(["--short"], "--seconds", 5, 1)).toBe(5)
  })

  it("refuses what is not a whole number at or above the minimum, naming the option and the value", () => {
    for (const bad of ["5s", "abc", "1.5", "-1", "", "1e3", "0x10"])
      expect(() => wholeNumberOption(["--seconds", bad], "--seconds", 5, 1)).toThrow(
        `--seconds takes a whole number >= 1 (got ${bad})`
      )
    expect(() => wholeNumberOption(["--runs", "0"], "--runs", 5, 1)).toThrow("--runs takes a whole number >= 1")
    expect(() => wholeNumberOption(["--leads"], "--leads", 800, 1)).toThrow("(got nothing)")
  })

  it("reads a comma-separated list, each item checked", () => {
    expect(wholeNumbersOption(["--connections", "50,200"], "--connections", [50], 1)).toEqual([50, 200])
    expect(wholeNumbersOption([], "--connections", [50], 1)).toEqual([50])
    for (const bad of ["50,", "50,x", ",", "0,50", "50;200"])
      expect(() => wholeNumbersOption(["--connections", bad], "--connections", [50], 1)).toThrow(
        `--connections takes whole numbers >= 1, comma-separated (got ${bad})`
      )
  })
})
