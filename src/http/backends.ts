import { join } from "node:path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SqsConfig from "../../layers/sqs/config.js"
import { AppConfig } from "../../services/AppConfig.js"

/** Which backend serves each part, as the start-up banner and the console show it. */
export interface Backends {
  readonly database: string
  readonly queue: string
  readonly crm: string
  readonly analyzer: string
  readonly enrichment: string
}

/** host:port/path of a connection URL, never its credentials. */
const where = (url: Redacted.Redacted<string>): string => {
  try {
    const parsed = new URL(Redacted.value(url))
    return `${parsed.host}${parsed.pathname.length > 1 ? parsed.pathname : ""}`
  } catch {
    return "(unparsable URL)"
  }
}

/** The queue name BullMQ uses (QUEUE_NAME, validated where the queue is built). */
const queueName = Config.string("QUEUE_NAME").pipe(Config.withDefault("lead-processing"))
/** The embedded database folder, as layers/postgres/pglite.ts resolves it. */
const dataDir = Config.string("DATA_DIR").pipe(Config.withDefault(".data"))
/** The SQS queue's name: the last part of SQS_QUEUE_URL (validated where the queue is built). */
const sqsQueueName = Config.string("SQS_QUEUE_URL").pipe(Config.map((url) => url.split("/").pop() ?? url))

/** The queue the configuration selects: QUEUE_BACKEND's, or (unset) BullMQ when REDIS_URL is set, else memory. */
const describeQueue = (redisUrl: Option.Option<Redacted.Redacted<string>>) =>
  Effect.gen(function* () {
    const backend = yield* Effect.orElseSucceed(SqsConfig.queueBackendConfig, () => Option.none())
    const queue = yield* Effect.orElseSucceed(queueName, () => "lead-processing")
    switch (SqsConfig.selectedQueueBackend(backend, redisUrl)) {
      case "SQS":
        return Option.match(yield* Effect.option(sqsQueueName), {
          onNone: () => "SQS queue (SQS_QUEUE_URL not set)",
          onSome: (name) => `SQS queue "${name}"`
        })
      case "BULLMQ":
        return Option.match(redisUrl, {
          onNone: () => `BullMQ queue "${queue}" (REDIS_URL not set)`,
          onSome: (url) => `BullMQ queue "${queue}" on Redis at ${where(url)}`
        })
      case "MEMORY":
        return `in-memory queue "${queue}" (this process only)`
    }
  })

/** The backends the configuration selects (read only; nothing is connected). */
export const describeBackends: Effect.Effect<Backends, never, AppConfig> = Effect.gen(function* () {
  const config = yield* AppConfig
  const dir = yield* Effect.orElseSucceed(dataDir, () => ".data")
  return {
    database: Option.match(config.databaseUrl, {
      onNone: () => `embedded PGlite in ${join(dir, "pglite")}`,
      onSome: (url) => `Postgres at ${where(url)}`
    }),
    queue: yield* describeQueue(config.redisUrl),
    crm: config.crmProvider === "MOCK" ? "mock CRM (in-process)" : config.crmProvider.toLowerCase(),
    analyzer: config.analyzer === "HEURISTIC" ? "heuristic analyser" : "Amazon Bedrock",
    enrichment: config.enrichmentProvider === "MOCK" ? "mock enrichment table" : "HTTP enrichment provider"
  }
})
