import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

/** Submits one item and completes with its own result once the batch holding it has run. */
export type Submit<I, O, E> = (item: I) => Effect.Effect<O, E>

export interface GroupCommitOptions<I, O, E> {
  /** Most items in one batch. */
  readonly maxBatch: number
  /** Most batches running at once; further items wait and form the next batch. */
  readonly maxInFlight: number
  /** Runs one batch: one outcome per item, in order, or one failure for all of them. */
  readonly run: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Either.Either<O, E>>, E>
}

interface Pending<I, O, E> {
  readonly item: I
  readonly resume: (exit: Exit.Exit<O, E>) => void
}

/**
 * Group commit: concurrent submissions share one round trip. There is no timer and no added wait: a submission
 * starts a batch at once when fewer than `maxInFlight` are running, and otherwise joins the next batch, which
 * starts as soon as one finishes. Under light load every batch holds one item; under heavy load the batches grow,
 * so the cost of a round trip (driver, protocol, server commit) is paid once per batch instead of once per item.
 *
 * A batch runs in its own fiber on the caller's runtime: once taken, it finishes even if the submitter is
 * interrupted (its answer is then dropped), so nothing is half-written. A submission not yet taken is withdrawn
 * when interrupted. Closing the scope waits for every submitted item to be answered.
 */
export const make = <I, O, E>(
  options: GroupCommitOptions<I, O, E>
): Effect.Effect<Submit<I, O, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runCallback = Runtime.runCallback(runtime)
    const pending: Array<Pending<I, O, E>> = []
    let inFlight = 0
    let drained: Deferred.Deferred<void> | undefined

    const start = (): void => {
      while (pending.length > 0 && inFlight < options.maxInFlight) {
        const batch = pending.splice(0, options.maxBatch)
        inFlight++
        runCallback(
          Effect.suspend(() => options.run(batch.map((entry) => entry.item))),
          { onExit: (exit) => finish(batch, exit) }
        )
      }
    }

    const finish = (
      batch: ReadonlyArray<Pending<I, O, E>>,
      exit: Exit.Exit<ReadonlyArray<Either.Either<O, E>>, E>
    ): void => {
      inFlight--
      if (Exit.isSuccess(exit)) {
        const results = exit.value
        batch.forEach((entry, i) => {
          const result = results[i]
          entry.resume(
            result === undefined
              ? Exit.die(new Error(`group commit: the batch answered ${results.length} of ${batch.length} items`))
              : Either.isRight(result)
                ? Exit.succeed(result.right)
                : Exit.fail(result.left)
          )
        })
      } else {
        for (const entry of batch) entry.resume(exit as Exit.Exit<never, E>)
      }
      start()
      if (drained !== undefined && inFlight === 0 && pending.length === 0) Deferred.unsafeDone(drained, Exit.void)
    }

    // checked and armed in one synchronous step: a batch finishing in between could otherwise never signal it
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        if (inFlight === 0 && pending.length === 0) return Effect.void
        drained ??= Deferred.unsafeMake<void>(FiberId.none)
        return Deferred.await(drained)
      })
    )

    return (item: I) =>
      Effect.async<O, E>((resume) => {
        const entry: Pending<I, O, E> = { item, resume }
        pending.push(entry)
        start()
        return Effect.sync(() => {
          const index = pending.indexOf(entry)
          if (index >= 0) pending.splice(index, 1)
        })
      })
  })
