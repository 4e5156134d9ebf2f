// The raw consumer baseline: a BullMQ Worker whose processor does nothing (or sleeps SLEEP_MS, standing in for
// the CRM latency the real consumer waits on). Plain JS: no loader.
// Env: REDIS_URL, REDIS_KEY_PREFIX, QUEUE_NAME, WORKER_CONCURRENCY, SLEEP_MS (default 0).
import { Worker } from "bullmq"
import { Redis } from "ioredis"

const env = process.env
const sleepMs = Number(env.SLEEP_MS ?? 0)
const connection = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null })
const worker = new Worker(
  env.QUEUE_NAME,
  async () => {
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs))
  },
  { connection, prefix: env.REDIS_KEY_PREFIX, concurrency: Number(env.WORKER_CONCURRENCY ?? 1), autorun: true }
)
worker.on("error", () => {})
worker.waitUntilReady().then(() => console.log("worker ready"))
const shutdown = async () => {
  await worker.close()
  connection.disconnect()
  process.exit(0)
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)
