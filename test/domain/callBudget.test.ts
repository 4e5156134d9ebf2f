import { describe, expect, it } from "@effect/vitest"
import { answered, emptyBudget, release, reserve } from "../../src/domain/callBudget.js"

const reading = (remaining: number, at: number) => ({ max: 20, remaining, intervalMs: 10_000, at })

describe("call budget from X-HubSpot-RateLimit-Remaining", () => {
  it("with no reading, any action goes ahead and its calls are outstanding", () => {
    const { budget, retryAfterMs } = reserve(emptyBudget, 5, 0)
    expect(retryAfterMs).toBeUndefined()
    expect(budget.outstanding).toBe(5)
  })

  it("refuses an action whose calls do not fit in what remains, until the reading's window has passed", () => {
    const start = { reading: reading(6, 1_000), outstanding: 0 }
    const first = reserve(start, 5, 2_000)
    expect(first.retryAfterMs).toBeUndefined()
    // 6 left, 5 promised: a second 5-call action must wait for the window of the reading (1 s + 10 s)
    const second = reserve(first.budget, 5, 2_000)
    expect(second.retryAfterMs).toBe(9_000)
    expect(second.budget).toEqual(first.budget)
    // a 1-call action still fits
    expect(reserve(first.budget, 1, 2_000).retryAfterMs).toBeUndefined()
    // once the window has passed, every call the reading counted has left HubSpot's rolling window
    expect(reserve(first.budget, 5, 11_000).retryAfterMs).toBeUndefined()
  })

  it("each answer replaces the reading and stops counting its call; unused reservations come back", () => {
    let budget = reserve({ reading: reading(10, 0), outstanding: 0 }, 5, 0).budget
    budget = answered(budget, reading(9, 100))
    budget = answered(budget, undefined)
    expect(budget).toEqual({ reading: reading(9, 100), outstanding: 3 })
    // the action made 2 of its 5 calls
    budget = release(budget, 3)
    expect(budget.outstanding).toBe(0)
    expect(reserve(budget, 9, 200).retryAfterMs).toBeUndefined()
    expect(reserve(budget, 10, 200).retryAfterMs).toBe(9_900)
  })

  it("a reading of 0 remaining (a 429's headers) holds every action back", () => {
    expect(reserve({ reading: reading(0, 500), outstanding: 0 }, 1, 600).retryAfterMs).toBe(9_900)
  })
})
