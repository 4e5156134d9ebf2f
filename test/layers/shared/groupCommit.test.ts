import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as GroupCommit from "../../../layers/shared/groupCommit.js"

/** A batcher whose batches wait for `gate` to open, recording what each batch held. */
const gated = (options: { readonly maxBatch: number; readonly maxInFlight: number }) =>
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    const batches: Array<ReadonlyArray<number>> = []
    const submit = yield* GroupCommit.make({
      ...options,
      run: (items: ReadonlyArray<number>) =>
        Effect.gen(function* () {
          batches.push(items)
          yield* Deferred.await(gate)
          if (items.includes(-1)) return yield* Effect.fail("batch failed")
          return items.map((n) => (n % 7 === 0 ? Either.left(`no ${n}`) : Either.right(n * 10)))
        })
    })
    return { submit, batches, open: Deferred.succeed(gate, undefined) }
  })

/** Lets forked fibers run up to their next suspension. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("group commit", () => {
  it.scoped("submissions made while batches run share the next batch; each gets its own answer", () =>
    Effect.gen(function* () {
      const { submit, batches, open } = yield* gated({ maxBatch: 4, maxInFlight: 1 })
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 8, 9], (n) => Effect.fork(submit(n)))
      yield* settle
      // the first ran alone at once; the rest queued behind it
      expect(batches).toStrictEqual([[1]])
      yield* open
      const results = yield* Effect.forEach(fibers, (fiber) => Effect.either(Fiber.join(fiber)))
      expect(batches).toStrictEqual([[1], [2, 3, 4, 5], [6, 8, 9]])
      expect(results.map(Either.getOrUndefined)).toStrictEqual([10, 20, 30, 40, 50, 60, 80, 90])
    })
  )

  it.scoped("an item's own failure fails only that item; a batch failure fails the whole batch", () =>
    Effect.gen(function* () {
      const { submit, open } = yield* gated({ maxBatch: 10, maxInFlight: 1 })
      yield* open
      const own = yield* Effect.all([submit(7), submit(3)].map(Effect.either), { concurrency: "unbounded" })
      expect(own).toStrictEqual([Either.left("no 7"), Either.right(30)])
      const blocker = yield* Effect.fork(submit(1))
      const batch = yield* Effect.forEach([2, -1], (n) => Effect.fork(Effect.either(submit(n))))
      yield* Fiber.join(blocker)
      expect(yield* Fiber.joinAll(batch)).toStrictEqual([Either.left("batch failed"), Either.left("batch failed")])
    })
  )

  it.live("past its deadline a submission fails: withdrawn if not yet taken, else its batch runs on unawaited", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { submit, batches, open } = yield* gated({ maxBatch: 10, maxInFlight: 1 })
        const deadline = { ms: 30, onTimeout: () => "too slow" }
        const taken = yield* Effect.fork(Effect.either(submit(1, deadline)))
        yield* settle
        const waiting = yield* Effect.fork(Effect.either(submit(2, deadline)))
        expect(yield* Fiber.join(taken)).toStrictEqual(Either.left("too slow"))
        expect(yield* Fiber.join(waiting)).toStrictEqual(Either.left("too slow"))
        yield* open
        // an answer in time is the batch's own
        expect(yield* Effect.either(submit(3, { ms: 5_000, onTimeout: () => "too slow" }))).toStrictEqual(
          Either.right(30)
        )
        // 1 ran (and finished) although its submitter had given up; 2 was withdrawn before any batch took it
        expect(batches).toStrictEqual([[1], [3]])
      })
    )
  )

  it.scoped("an interrupted submission not yet taken is withdrawn; a taken one still runs to the end", () =>
    Effect.gen(function* () {
      const { submit, batches, open } = yield* gated({ maxBatch: 10, maxInFlight: 1 })
      const taken = yield* Effect.fork(submit(1))
      const waiting = yield* Effect.fork(submit(2))
      yield* settle
      yield* Fiber.interrupt(waiting)
      yield* Fiber.interrupt(taken)
      const later = yield* Effect.fork(submit(3))
      yield* open
      expect(yield* Fiber.join(later)).toBe(30)
      expect(batches).toStrictEqual([[1], [3]])
    })
  )

  it.effect("closing the scope waits until every submitted item has been answered", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { submit, batches, open } = yield* Scope.extend(gated({ maxBatch: 10, maxInFlight: 1 }), scope)
      const fibers = yield* Effect.forEach([1, 2, 3], (n) => Effect.fork(submit(n)))
      yield* settle
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      expect(closing.unsafePoll()).toBeNull()
      yield* open
      yield* Fiber.join(closing)
      expect(batches).toStrictEqual([[1], [2, 3]])
      expect(yield* Fiber.joinAll(fibers)).toStrictEqual([10, 20, 30])
    })
  )
})
