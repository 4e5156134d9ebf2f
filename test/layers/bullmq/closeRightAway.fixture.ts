// A BullMQ consumer started and closed at once (a short test, a CLI command): prints how long the process lived on
// after the close. Run by closeRightAway.test.ts as its own process.
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import { JobQueue } from "../../../services/JobQueue.js"
import { redisTestLayer, testPrefix } from "../../support/redis.js"

const consumeAndClose = Effect.scoped(
  Effect.flatMap(JobQueue, (queue) =>
    queue.consume({ concurrency: 1, process: () => Effect.void, onDeadLetter: () => Effect.void })
  )
)

await Effect.runPromise(
  consumeAndClose.pipe(
    Effect.provide(
      BullJobQueue.layer({ queueName: `close-${randomUUID().slice(0, 8)}` }).pipe(
        Layer.provide(redisTestLayer(testPrefix()))
      )
    )
  )
)
const closed = performance.now()
process.on("exit", () => console.log(`exited ${Math.round(performance.now() - closed)} ms after the close`))
