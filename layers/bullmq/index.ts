/** `revenueflow/bullmq`: the JobQueue on BullMQ (optional peers: bullmq, ioredis). Needs a RedisClient. */
export * as BullMqJobQueue from "./JobQueue.js"
export * as BullMqOptions from "./JobQueueOptions.js"
