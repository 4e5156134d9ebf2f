import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"

/** How long a submitter waits for its answer, and the failure it gets after that. */
export interface Deadline<E> {
  readonly ms: number
  readonly onTimeout: () => E
}

/**
 * Submits one item and completes with its own result once the batch holding it has run; with a deadline, fails with
 * `onTimeout()` once it has passed (as if interrupted: withdrawn if not yet taken, else its batch finishes unawaited).
 */
export type Submit<I, O, E> = (item: I, deadline?: Deadline<E>) => Effect.Effect<O, E>

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
    // every running batch is a fiber of this set; closing the scope waits for it to empty
    const batches = yield* FiberSet.make<void>()
    const runBatch = yield* FiberSet.runtime(batches)<never>()
    const pending: Array<Pending<I, O, E>> = []
    let inFlight = 0

    const start = (): void => {
      while (pending.length > 0 && inFlight < options.maxInFlight) {
        const batch = pending.splice(0, options.maxBatch)
        inFlight++
        // the answers are handed out, and the next batch forked, before this fiber ends: the set is never empty
        // while items wait
        runBatch(
          Effect.suspend(() => options.run(batch.map((entry) => entry.item))).pipe(
            // also when interrupted (a set already closed): every submitter gets an answer
            Effect.onExit((exit) => Effect.sync(() => finish(batch, exit))),
            Effect.ignore
          )
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
    }

    // registered after the set, so it runs first: every taken batch finishes and answers before the scope closes
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(batches))

    const withdraw = (entry: Pending<I, O, E>) => {
      const index = pending.indexOf(entry)
      if (index >= 0) pending.splice(index, 1)
    }

    /**
     * Submits `item`; `withdrawable`: interruption withdraws it if not yet taken. A submitter that cannot be
     * interrupted (the ingest's accept is not) needs no canceler, and an `Effect.async` without one costs several
     * Effect operations less per item: the hot path's cost (docs/performance-log.md).
     */
    const submit = (item: I, deadline: Deadline<E> | undefined, withdrawable: boolean) =>
      Effect.async<O, E>((resume) => {
        if (deadline === undefined) {
          const entry: Pending<I, O, E> = { item, resume }
          pending.push(entry)
          start()
          return withdrawable ? Effect.sync(() => withdraw(entry)) : undefined
        }
        // a plain timer: an Effect timeout would fork two fibers per submission
        let answered = false
        const entry: Pending<I, O, E> = {
          item,
          resume: (exit) => {
            if (answered) return
            answered = true
            clearTimeout(timer)
            resume(exit)
          }
        }
        const timer = setTimeout(() => {
          if (answered) return
          answered = true
          withdraw(entry)
          resume(Effect.fail(deadline.onTimeout()))
        }, deadline.ms)
        pending.push(entry)
        start()
        return withdrawable
          ? Effect.sync(() => {
              answered = true
              clearTimeout(timer)
              withdraw(entry)
            })
          : undefined
      })

    return (item: I, deadline?: Deadline<E>) =>
      Effect.checkInterruptible((interruptible) => submit(item, deadline, interruptible))
  })
