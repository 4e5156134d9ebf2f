import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import * as MemoryQueue from "../../layers/memory/JobQueue.js"
import { JobQueue, QueueUnavailable } from "../../services/JobQueue.js"
import { LeadStore, StoreUnavailable } from "../../services/LeadStore.js"

/** Turns a test dependency down (every call fails as unavailable) and up again. */
export interface Outage {
  readonly down: Effect.Effect<void>
  readonly up: Effect.Effect<void>
}

/** The switch for the lead store of `layerStoreSwitchable`. */
export class StoreOutage extends Context.Tag("test/StoreOutage")<StoreOutage, Outage>() {}
/** The switch for the queue of `layerQueueSwitchable`. */
export class QueueOutage extends Context.Tag("test/QueueOutage")<QueueOutage, Outage>() {}

const outage = Effect.map(Ref.make(false), (isDown) => ({
  isDown: Ref.get(isDown),
  control: { down: Ref.set(isDown, true), up: Ref.set(isDown, false) } satisfies Outage
}))

/** The memory LeadStore, except that accept, get and listByStatus fail with StoreUnavailable while it is down. */
export const layerStoreSwitchable = Layer.effectContext(
  Effect.gen(function* () {
    const inner = yield* MemoryLeadStore.make
    const { isDown, control } = yield* outage
    const guard = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreUnavailable, R> =>
      Effect.flatMap(
        isDown,
        (down): Effect.Effect<A, E | StoreUnavailable, R> =>
          down ? Effect.fail(new StoreUnavailable({ message: "connection refused" })) : effect
      )
    const store = LeadStore.of({
      ...inner,
      accept: (input) => guard(inner.accept(input)),
      get: (id) => guard(inner.get(id)),
      listByStatus: (options) => guard(inner.listByStatus(options))
    })
    return Context.make(LeadStore, store).pipe(Context.add(StoreOutage, control))
  })
)

/** The memory JobQueue, except that enqueue and stats fail with QueueUnavailable while it is down. */
export const layerQueueSwitchable = (options: MemoryQueue.MemoryQueueOptions) =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const inner = yield* MemoryQueue.make(options)
      const { isDown, control } = yield* outage
      const guard = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | QueueUnavailable, R> =>
        Effect.flatMap(
          isDown,
          (down): Effect.Effect<A, E | QueueUnavailable, R> =>
            down ? Effect.fail(new QueueUnavailable({ message: "ECONNREFUSED 127.0.0.1:6379" })) : effect
        )
      const queue = JobQueue.of({
        ...inner,
        enqueue: (job) => guard(inner.enqueue(job)),
        stats: guard(inner.stats)
      })
      return Context.make(JobQueue, queue).pipe(Context.add(QueueOutage, control))
    })
  )
