import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * Everything the stack can be told, read from CDK context (`cdk synth -c key=value` or cdk.json "context").
 * Context rather than CloudFormation parameters: the choices change the shape of the template (an HTTPS listener
 * when a certificate is given, a collector sidecar when traces go to X-Ray, a Bedrock statement when the analyser
 * is Bedrock), which parameters cannot do, and synthesis stays offline and account-agnostic.
 */
export interface StackConfig {
  /**
   * Which stack `bin/app.ts` builds: `fargate` (ALB + ECS services + BullMQ on Redis) or `serverless` (HTTP API +
   * Lambda + SQS). One app, one stack per synth: both share the VPC / database design, and deploying both by
   * accident would run two databases.
   */
  readonly variant: "fargate" | "serverless"
  /**
   * The image built from the project's Dockerfile, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/revenueflow:1.4.0`.
   * The Fargate variant needs this or `ecrRepository` (there is no public RevenueFlow image to fall back on).
   */
  readonly image: string | undefined
  /** Instead of `image`: an ECR repository name in the deploying account, pulled with a scoped policy. */
  readonly ecrRepository: string | undefined
  readonly imageTag: string
  /** ACM certificate for the HTTPS listener; without one (and `allowPlainHttp`) the load balancer serves HTTP 80. */
  readonly certificateArn: string | undefined
  /** Serve plain HTTP without a certificate (API keys and webhook tokens in cleartext): only when asked explicitly. */
  readonly allowPlainHttp: boolean
  readonly crmProvider: "MOCK" | "SALESFORCE" | "HUBSPOT"
  /**
   * An existing Secrets Manager secret with the CRM credentials (JSON of ENV_NAME -> value), created and filled
   * before the deploy: the stack reads it and never writes it. Required unless crmProvider is MOCK.
   */
  readonly crmSecretArn: string | undefined
  /** Give the ingest the CRM secret too, so its /mcp endpoint can build the CRM client (Fargate only). */
  readonly mcpOnIngest: boolean
  readonly analyzer: "HEURISTIC" | "BEDROCK"
  /** The Converse model or geographic inference profile (analyzer BEDROCK only; empty otherwise). */
  readonly bedrockModelId: string
  readonly workerConcurrency: number
  readonly rateLimits: {
    readonly perLead: number
    readonly perAccount: number
    readonly crm: number
    readonly windowMs: number
  }
  /** Any further program variables (names as in the README's configuration tables), not secrets. */
  readonly environment: Readonly<Record<string, string>>
  readonly ingest: ServiceSize
  readonly consumer: ServiceSize
  /**
   * Queue depth (waiting jobs, absolute: not per task) above which the consumer adds a task; the steps (+1 above
   * this, +3 above 5x, +5 above 20x) do not depend on how many tasks already run.
   */
  readonly backlogPerTask: number
  /** Oldest waiting job age (seconds) above which the consumer scales out regardless of depth. */
  readonly maxWaitSeconds: number
  /** Requests per minute per ingest task above which the ingest scales out. */
  readonly requestsPerTarget: number
  readonly natGateways: number
  readonly dbInstanceClass: string
  readonly dbAllocatedStorageGiB: number
  /**
   * The database the programs use, as the RDS secret's dbname: `revenueflow`, the one the stack creates, or
   * `postgres`, the instance's default database, where a stack deployed before the secret carried a dbname keeps its
   * tables (README "Deploy to AWS", "Upgrading a stack deployed before the secret named its database").
   */
  readonly programDatabase: "revenueflow" | "postgres"
  readonly multiAz: boolean
  readonly deletionProtection: boolean
  readonly redisNodeType: string
  readonly rotationDays: number
  /** Where traces go: nowhere, AWS X-Ray (through an ADOT collector sidecar) or an OTLP/HTTP endpoint you run. */
  readonly tracing: "off" | "xray" | "otlp"
  readonly otlpEndpoint: string | undefined
  readonly logRetentionDays: number
  /** E-mail address subscribed to the alarm topic (optional). */
  readonly alarmEmail: string | undefined
  /** The serverless variant's settings (read, and checked, only with variant=serverless). */
  readonly serverless: ServerlessConfig
  /** How long ECS waits after SIGTERM before SIGKILL, per program (`stopTimeouts`). */
  readonly stopTimeoutSeconds: { readonly ingest: number; readonly consumer: number }
}

export interface ServerlessConfig {
  /** The folder holding the handler bundles `ingest/`, `consumer/`, `sweep/` (`npm run build:bundles`). */
  readonly bundles: string
  readonly ingestMemoryMiB: number
  readonly consumerMemoryMiB: number
  /**
   * The consumer function's timeout; the queue's visibility timeout is 6x this plus the batching window. At least
   * what a batch may take (`consumerBatchWorstCaseMs`): a job stopped at the timeout is run again and spends one of
   * its attempts. Default: 60 s, or that worst case when it is longer; a worst case past Lambda's 900 s is refused.
   */
  readonly consumerTimeoutSeconds: number
  /**
   * SQS records per consumer invocation (up to 10, or 10,000 with a batching window). Default: workerConcurrency (up
   * to 10), so a batch is processed in one round.
   */
  readonly batchSize: number
  readonly maxBatchingWindowSeconds: number
  /** Concurrent consumer invocations the event source mapping may run (2..1000): bounds the CRM and database load. */
  readonly maxConcurrency: number
  /**
   * Receives before SQS moves a job to the DLQ: the job's attempts. Delays (rate limit, breaker open, the store failing
   * over) spend none: the consumer sends a delayed job again as a fresh message and acknowledges the delivery.
   */
  readonly maxReceiveCount: number
  /** Reserved concurrency of the ingest function (bounds its Postgres connections to 2 per instance); unset: none. */
  readonly ingestReservedConcurrency: number | undefined
  /** EventBridge rate of the outbox sweep, in minutes (EventBridge's smallest rate is 1 minute). */
  readonly sweepIntervalMinutes: number
  /** Requests per second (steady) and burst the HTTP API's stage lets through to the ingest. */
  readonly apiRateLimit: number
  readonly apiBurstLimit: number
}

export interface ServiceSize {
  readonly cpu: number
  readonly memoryMiB: number
  readonly minTasks: number
  readonly maxTasks: number
}

/** Reads a context value (what `node.tryGetContext` returns). */
export type ContextReader = (key: string) => unknown

/**
 * The programs' settings that are secrets: those they read as Redacted (Config.redacted, `credential`, the webhook
 * secrets; test/config.test.ts keeps this list equal to what the code reads so). `environment` refuses them and
 * their `_PREVIOUS` forms (the rotation procedure's names): they go in the stack's secrets, never in the template.
 */
export const secretSettings: ReadonlySet<string> = new Set([
  "DATABASE_URL",
  "REDIS_URL",
  "INGEST_API_KEYS",
  "MARKETO_WEBHOOK_TOKEN",
  "MARKETO_WEBHOOK_TOKEN_PREVIOUS",
  "HUBSPOT_APP_SECRET",
  "HUBSPOT_APP_SECRET_PREVIOUS",
  "HUBSPOT_ACCESS_TOKEN",
  "SALESFORCE_ACCESS_TOKEN",
  "SALESFORCE_CLIENT_SECRET",
  "SALESFORCE_PRIVATE_KEY",
  "ENRICHMENT_API_KEY"
])

/**
 * Whether `environment` must refuse a variable as a secret: one of `secretSettings` or its `_PREVIOUS` form, or (for
 * a name the programs do not read, yours) a name that says it is one.
 */
export const looksLikeSecret = (name: string): boolean =>
  secretSettings.has(name) ||
  secretSettings.has(name.replace(/_PREVIOUS$/, "")) ||
  /(SECRET|TOKEN|PASSWORD|PRIVATE_KEY|API_KEYS?|CREDENTIALS?)(_PREVIOUS)?$/.test(name)

/** The CRMs whose executors make HTTP calls, each bounded by CRM_TIMEOUT_MS (the mock makes none). */
export type RealCrm = Exclude<StackConfig["crmProvider"], "MOCK">

/**
 * The consumer's longest plan for one lead (src/domain/plan.ts planActions): an enriched lead routed to an SDR. Every
 * other plan is a part of it (Manual Review, no enrichment, Ignore) or has update_lead_status where it has create_task
 * (Nurture), a cheaper action with both CRMs (test/crmCalls.test.ts checks every plan against it).
 */
export const longestPlan = [
  "upsert_lead",
  "sync_firmographics",
  "set_lead_score",
  "log_activity",
  "create_task"
] as const

/** The tools the consumer plans: those of the longest plan, and Nurture's status. */
export type PlannedTool = (typeof longestPlan)[number] | "update_lead_status"

/**
 * The most HTTP calls each CRM's executor makes one after another for an action the consumer plans, each with a
 * deadline of CRM_TIMEOUT_MS of its own (layers/hubspot/call.ts, layers/salesforce/call.ts): an action is not bounded
 * as a whole, so a CRM answering just inside the deadline makes it take this many times CRM_TIMEOUT_MS. The tools' usual
 * calls (their `callCost`) and the rare paths their code takes (test/crmCalls.test.ts drives each executor's tools
 * down them at a fake API and counts the calls):
 * - HubSpot: a contact upsert answered 409 naming the contact is sent again as an update by id (+1 to the actions
 *   that write the contact's own properties: upsert_lead, set_lead_score, update_lead_status); a firmographics sync
 *   reads the company definitions, searches the domain, updates the company found (answered 404: deleted or merged
 *   since), upserts it by its key, reads its name and names it, then upserts the contact and associates the two (8);
 *   a note or a task upserts the contact, itself, and associates them (3);
 * - Salesforce: a Lead write whose country the org's picklists refuse is sent again without it (+1); firmographics
 *   with a country read the Lead's own first (3); a task looks its Lead's id up, and its write, refused for a Task
 *   Status read earlier (an admin edited the picklist since), reads the statuses again and is sent once more (4).
 * Each action is counted alone: a run of several can make a call or two fewer (a Lead id looked up once serves both
 * tasks).
 */
export const crmCallsPerAction: Readonly<Record<RealCrm, Readonly<Record<PlannedTool, number>>>> = {
  HUBSPOT: {
    upsert_lead: 2,
    sync_firmographics: 8,
    set_lead_score: 2,
    log_activity: 3,
    create_task: 3,
    update_lead_status: 2
  },
  SALESFORCE: {
    upsert_lead: 2,
    sync_firmographics: 3,
    set_lead_score: 1,
    log_activity: 4,
    create_task: 4,
    update_lead_status: 1
  }
}

/**
 * Calls a lead's run may add when the CRM's credentials change under it, each with the same deadline: HubSpot sends
 * a call refused 401 once more with the token read again (1); Salesforce signs in (a token request, and one more with
 * the credentials read again when the first is refused), or signs in again when its session is refused and sends the
 * call once more (2).
 */
export const crmSignInCalls: Readonly<Record<RealCrm, number>> = { HUBSPOT: 1, SALESFORCE: 2 }

/** The most CRM calls one lead's run makes one after another: its longest plan's, and one change of credentials. */
export const crmCallsPerLead = (crm: RealCrm): number =>
  longestPlan.reduce((calls, tool) => calls + crmCallsPerAction[crm][tool], crmSignInCalls[crm])

/** The longest Retry-After the HTTP enricher waits for between two asks of a lookup (its MAX_PENDING_WAIT_MS). */
export const ENRICHMENT_MAX_PENDING_WAIT_MS = 10_000

/** A setting of `environment` as the programs read it, the programs' default when it is absent or unreadable. */
const settingOf =
  (environment: Readonly<Record<string, string>>) =>
  (name: string, fallback: number): number => {
    const n = Number(environment[name] ?? fallback)
    return Number.isInteger(n) && n >= 0 ? n : fallback
  }

/** The settings `enrichmentLookupWorstCaseMs` reads: lowering any of them shortens it. */
export const enrichmentSettings = [
  "ENRICHMENT_TIMEOUT_MS",
  "ENRICHMENT_RETRIES",
  "ENRICHMENT_RETRY_BASE_MS",
  "ENRICHMENT_PENDING_RETRIES"
] as const

/**
 * The longest one lookup of the HTTP enrichment provider takes (layers/http/Enricher.ts, its defaults there), in ms.
 * While the provider answers 202 ("still queued") it is asked again, up to 1 + ENRICHMENT_PENDING_RETRIES asks; each
 * ask is up to 1 + ENRICHMENT_RETRIES attempts of ENRICHMENT_TIMEOUT_MS, with a backoff of ENRICHMENT_RETRY_BASE_MS
 * doubling after each, jittered up to x1.2; between two asks it waits the 202's Retry-After, up to
 * ENRICHMENT_MAX_PENDING_WAIT_MS (ENRICHMENT_PENDING_WAIT_MS is only the wait without one, so it bounds nothing).
 * 49.16 s at the defaults. A lead's run asks once (src/pipeline/process.ts keeps the answer with the analysis).
 */
export const enrichmentLookupWorstCaseMs = (environment: Readonly<Record<string, string>>): number => {
  const setting = settingOf(environment)
  const retries = setting("ENRICHMENT_RETRIES", 2)
  const pendingRetries = setting("ENRICHMENT_PENDING_RETRIES", 2)
  // base x (1 + 2 + ... + 2^(retries - 1)) x 1.2, in whole ms
  const backoffMs = Math.ceil((setting("ENRICHMENT_RETRY_BASE_MS", 200) * (2 ** retries - 1) * 6) / 5)
  const askMs = (1 + retries) * setting("ENRICHMENT_TIMEOUT_MS", 3000) + backoffMs
  return (1 + pendingRetries) * askMs + pendingRetries * ENRICHMENT_MAX_PENDING_WAIT_MS
}

/**
 * What the programs' own settings let one lead take in the consumer at most, in ms (their defaults: layers/bedrock/
 * config.ts, layers/salesforce/config.ts, layers/hubspot/config.ts, layers/http/Enricher.ts): with Bedrock, a Converse
 * call of BEDROCK_TIMEOUT_MS (SDK retries included) and BEDROCK_DECODE_RETRIES re-asks of it; with a real CRM, its most
 * calls one after another (`crmCallsPerLead`) of CRM_TIMEOUT_MS each; with ENRICHMENT_PROVIDER=HTTP, one lookup
 * (`enrichmentLookupWorstCaseMs`). `crmTimeoutMs` is CRM_TIMEOUT_MS whatever the CRM: the Lambda consumer stops its
 * jobs that long before its deadline.
 */
export const perLeadWorstCaseMs = (
  config: Pick<StackConfig, "analyzer" | "crmProvider" | "environment">
): {
  readonly ms: number
  readonly bedrockMs: number
  readonly enrichmentMs: number
  readonly crmCalls: number
  readonly crmTimeoutMs: number
  readonly settings: ReadonlyArray<string>
  /** How `ms` is made up, for the refusal's text. */
  readonly explained: string
} => {
  const setting = settingOf(config.environment)
  const bedrockMs =
    config.analyzer === "BEDROCK"
      ? setting("BEDROCK_TIMEOUT_MS", 20_000) * (1 + setting("BEDROCK_DECODE_RETRIES", 2))
      : 0
  const httpEnrichment = config.environment.ENRICHMENT_PROVIDER === "HTTP"
  const enrichmentMs = httpEnrichment ? enrichmentLookupWorstCaseMs(config.environment) : 0
  const crmTimeoutMs = setting("CRM_TIMEOUT_MS", 10_000)
  const crmCalls = config.crmProvider === "MOCK" ? 0 : crmCallsPerLead(config.crmProvider)
  const crmName = config.crmProvider === "HUBSPOT" ? "HubSpot" : "Salesforce"
  const parts = [
    ...(config.analyzer === "BEDROCK" ? ["Bedrock: BEDROCK_TIMEOUT_MS x (1 + BEDROCK_DECODE_RETRIES)"] : []),
    ...(httpEnrichment
      ? [
          `HTTP enrichment: ${enrichmentMs / 1000} s, (1 + ENRICHMENT_PENDING_RETRIES) asks of (1 + ENRICHMENT_RETRIES) attempts of ENRICHMENT_TIMEOUT_MS and their ENRICHMENT_RETRY_BASE_MS backoff, ${ENRICHMENT_MAX_PENDING_WAIT_MS / 1000} s between asks`
        ]
      : []),
    ...(crmCalls === 0 ? [] : [`${crmName}: ${crmCalls} calls one after another, each up to CRM_TIMEOUT_MS`])
  ]
  return {
    ms: bedrockMs + enrichmentMs + crmCalls * crmTimeoutMs,
    bedrockMs,
    enrichmentMs,
    crmCalls,
    crmTimeoutMs,
    settings: [
      ...(config.analyzer === "BEDROCK" ? ["BEDROCK_TIMEOUT_MS", "BEDROCK_DECODE_RETRIES"] : []),
      ...(httpEnrichment ? enrichmentSettings : []),
      ...(crmCalls === 0 ? [] : ["CRM_TIMEOUT_MS"])
    ],
    explained: parts.length === 0 ? "no Bedrock, no HTTP enrichment, mock CRM" : parts.join("; ")
  }
}

/** ECS's longest stop timeout (seconds), and the least the stack gives a container. */
export const ECS_MAX_STOP_TIMEOUT_SECONDS = 120
const MIN_STOP_TIMEOUT_SECONDS = 30

/** A whole number of milliseconds `environment` sets for `name`, else `fallback` (the program refuses a bad one). */
const envMs = (environment: Readonly<Record<string, string>>, name: string, fallback: number): number => {
  const value = Number(environment[name])
  return environment[name] !== undefined && Number.isInteger(value) && value > 0 ? value : fallback
}

/**
 * What each program's drain on SIGTERM may take, so ECS waits for it before SIGKILL: the ingest SHUTDOWN_TIMEOUT_MS
 * (then it closes what is left); the consumer SHUTDOWN_TIMEOUT_MS, the 2 s cancel grace, then a job inside a CRM
 * call is let finish it (CRM_TIMEOUT_MS) and its audit row (10 s of retries) before its job is released
 * (layers/bullmq/Worker.ts), plus 2 s to exit. At least 30 s (ECS's default).
 */
export const stopTimeouts = (environment: Readonly<Record<string, string>>) => {
  const shutdownMs = envMs(environment, "SHUTDOWN_TIMEOUT_MS", 10_000)
  const crmMs = envMs(environment, "CRM_TIMEOUT_MS", 10_000)
  const seconds = (ms: number) => Math.max(MIN_STOP_TIMEOUT_SECONDS, Math.ceil(ms / 1000))
  return { ingest: seconds(shutdownMs + 2000), consumer: seconds(shutdownMs + 2000 + crmMs + 10_000 + 2000) }
}

/** Lambda's longest function timeout, in seconds. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900

/** What the Lambda consumer keeps back from its timeout to stop unfinished jobs and answer (src/lambda/consumer.ts). */
export const CONSUMER_TIMEOUT_MARGIN_MS = 1000

/**
 * The timeout a consumer invocation's batch needs: WORKER_CONCURRENCY jobs at a time, so ceil(batch / concurrency)
 * rounds of the per-lead worst case, then `stopMs` — the handler stops jobs CRM_TIMEOUT_MS before its deadline, so a
 * CRM call in flight can finish and be recorded — and its margin.
 */
export const consumerBatchWorstCaseMs = (
  batchSize: number,
  workerConcurrency: number,
  perLeadMs: number,
  stopMs: number
): number => Math.ceil(batchSize / workerConcurrency) * perLeadMs + stopMs + CONSUMER_TIMEOUT_MARGIN_MS

/** The handler bundles `npm run build:bundles` writes, relative to this file: <repo>/dist/lambda. */
const defaultBundles = fileURLToPath(new URL("../../dist/lambda", import.meta.url))

/** The bundles the serverless variant deploys, each a folder with index.mjs exporting `handler`. */
export const lambdaBundles = ["ingest", "consumer", "sweep"] as const

/**
 * Variables the stacks set themselves, which `environment` may not override: the program settings that have their
 * own context key, and the wiring (ports the target group and health checks use, the metrics the scaling and alarms
 * read, the secrets, the queue). `(context key)` names the key to use instead.
 */
const ownedByBoth: Readonly<Record<string, string>> = {
  LOG_FORMAT: "json, for CloudWatch Logs",
  CRM_PROVIDER: "use -c crmProvider",
  ANALYZER: "use -c analyzer",
  BEDROCK_MODEL_ID: "use -c bedrockModelId",
  WORKER_CONCURRENCY: "use -c workerConcurrency",
  RATE_LIMIT_PER_LEAD: "use -c rateLimitPerLead",
  RATE_LIMIT_PER_ACCOUNT: "use -c rateLimitPerAccount",
  RATE_LIMIT_CRM: "use -c rateLimitCrm",
  RATE_LIMIT_WINDOW_MS: "use -c rateLimitWindowMs",
  AWS_SECRETS_IDS: "the stack's secrets",
  OTEL_SERVICE_NAME: "one per program",
  OTEL_EXPORTER_OTLP_ENDPOINT: "use -c tracing / otlpEndpoint",
  CIRCUIT_BREAKER: "REDIS, shared by every replica",
  QUEUE_BACKEND: "the variant's queue"
}
const ownedByFargate: Readonly<Record<string, string>> = {
  AWS_REGION: "the stack's region",
  PORT: "the target group, port mapping and health check use 3000",
  METRICS_PORT: "the consumer's health check uses 9464",
  HOST: "the load balancer reaches the task's interface",
  CLOUDWATCH_METRICS: "the scaling policies and alarms read these metrics",
  CLOUDWATCH_NAMESPACE: "the scaling policies and alarms read these metrics",
  CLOUDWATCH_METRICS_INTERVAL_MS: "the scaling policies and alarms read these metrics each minute"
}
const ownedByServerless: Readonly<Record<string, string>> = {
  MIGRATE_ON_START: "the migrations custom resource runs them",
  SQS_QUEUE_URL: "the stack's queue",
  SQS_DLQ_URL: "the stack's dead-letter queue",
  SWEEP_INTERVAL_MS: "use -c sweepIntervalMinutes",
  DATABASE_POOL_SIZE: "set per function",
  CLOUDWATCH_METRICS: "the breaker alarms read the consumer's EMF lines",
  CLOUDWATCH_NAMESPACE: "the breaker alarms read the consumer's EMF lines"
}

/** Geographic cross-Region inference profiles: `us.anthropic…` routes to the model in that geography's Regions. */
const inferenceProfilePrefix = /^(us|us-gov|eu|apac|jp|au|ca)\./

/** The foundation model a Bedrock model id names: itself, or the one a geographic inference profile routes to. */
export const bedrockModel = (
  modelId: string
): { readonly profile: string | undefined; readonly foundationModel: string } => {
  const prefix = inferenceProfilePrefix.exec(modelId)
  return prefix === null
    ? { profile: undefined, foundationModel: modelId }
    : { profile: modelId, foundationModel: modelId.slice(prefix[0].length) }
}

/** A secret's complete ARN ends in "-" and the 6 characters Secrets Manager adds; a partial ARN stops at the name. */
export const isCompleteSecretArn = (arn: string): boolean => /-[A-Za-z0-9]{6}$/.test(arn)

const problems = (errors: ReadonlyArray<string>) =>
  new Error(`Invalid stack context:\n${errors.map((e) => ` - ${e}`).join("\n")}`)

/** Parses and validates the context, naming every bad key at once (like the programs' own start-up check). */
export const fromContext = (read: ContextReader): StackConfig => {
  const errors: Array<string> = []
  const str = (key: string, fallback: string): string => {
    const value = read(key)
    if (value === undefined || value === null || value === "") return fallback
    if (typeof value !== "string") {
      errors.push(`${key}: must be a string`)
      return fallback
    }
    return value
  }
  const optional = (key: string): string | undefined => {
    const value = str(key, "")
    return value === "" ? undefined : value
  }
  const int = (key: string, fallback: number, min = 1): number => {
    const value = read(key)
    if (value === undefined || value === null || value === "") return fallback
    const n = typeof value === "number" ? value : Number(value)
    if (!Number.isInteger(n) || n < min) {
      errors.push(`${key}: must be an integer >= ${min}`)
      return fallback
    }
    return n
  }
  const bool = (key: string, fallback: boolean): boolean => {
    const value = read(key)
    if (value === undefined || value === null || value === "") return fallback
    if (value === true || value === "true") return true
    if (value === false || value === "false") return false
    errors.push(`${key}: must be true or false`)
    return fallback
  }
  const oneOf = <A extends string>(key: string, allowed: ReadonlyArray<A>, fallback: A): A => {
    const value = str(key, fallback)
    if (!(allowed as ReadonlyArray<string>).includes(value)) {
      errors.push(`${key}: must be one of ${allowed.join(", ")}`)
      return fallback
    }
    return value as A
  }
  const environment = (variant: StackConfig["variant"]): Record<string, string> => {
    const owned = { ...ownedByBoth, ...(variant === "serverless" ? ownedByServerless : ownedByFargate) }
    const value = read("environment")
    if (value === undefined || value === null || value === "") return {}
    let parsed: unknown = value
    if (typeof value === "string") {
      try {
        parsed = JSON.parse(value)
      } catch {
        errors.push("environment: must be a JSON object of NAME -> string")
        return {}
      }
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      errors.push("environment: must be a JSON object of NAME -> string")
      return {}
    }
    const out: Record<string, string> = {}
    for (const [name, v] of Object.entries(parsed)) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(name) || typeof v !== "string") {
        errors.push(`environment.${name}: must be an upper-case variable name with a string value`)
      } else if (owned[name] !== undefined) {
        errors.push(`environment.${name}: set by the stack (${owned[name]}); leave it out of environment`)
      } else if (looksLikeSecret(name)) {
        errors.push(
          `environment.${name}: looks like a secret; put it in a secret instead: the CRM secret (crmSecretArn) for the consumer, the webhook secret for the ingest`
        )
      } else out[name] = v
    }
    return out
  }
  const size = (prefix: string, defaults: ServiceSize): ServiceSize => {
    const minTasks = int(`${prefix}MinTasks`, defaults.minTasks)
    const maxTasks = int(`${prefix}MaxTasks`, defaults.maxTasks)
    if (maxTasks < minTasks) errors.push(`${prefix}MaxTasks: must be >= ${prefix}MinTasks`)
    return {
      cpu: int(`${prefix}Cpu`, defaults.cpu, 256),
      memoryMiB: int(`${prefix}MemoryMiB`, defaults.memoryMiB, 512),
      minTasks,
      maxTasks
    }
  }

  // CloudWatch Logs accepts only these retention periods
  const retentions = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
  ]
  const logRetentionDays = int("logRetentionDays", 30)
  if (!retentions.includes(logRetentionDays)) errors.push(`logRetentionDays: must be one of ${retentions.join(", ")}`)
  const tracing = oneOf("tracing", ["off", "xray", "otlp"] as const, "off")
  const otlpEndpoint = optional("otlpEndpoint")
  if (tracing === "otlp" && otlpEndpoint === undefined) errors.push("otlpEndpoint: required when tracing=otlp")
  const analyzer = oneOf("analyzer", ["HEURISTIC", "BEDROCK"] as const, "HEURISTIC")
  // No default: Bedrock retires models (Claude 3.5 Haiku, the default until December 2026, since June 2026), and
  // which id a Region serves (the model's own, or a geography's profile only) depends on the Region.
  const bedrockModelId = str("bedrockModelId", "")
  if (analyzer !== "BEDROCK") {
    // not read
  } else if (bedrockModelId === "")
    errors.push(
      "bedrockModelId: required when analyzer=BEDROCK: an Active model with Converse tool use that the account may invoke in the stack's Region, or a geographic inference profile of one (e.g. us.anthropic.claude-haiku-4-5-20251001-v1:0)"
    )
  else if (!/^[A-Za-z0-9.:_-]+$/.test(bedrockModelId))
    errors.push("bedrockModelId: must be a plain model id (no wildcard)")
  else if (bedrockModelId.startsWith("global."))
    errors.push(
      "bedrockModelId: a global inference profile can route to any commercial Region; use a model id of the stack's Region or a geographic profile (us., eu., apac., …)"
    )

  const variant = oneOf("variant", ["fargate", "serverless"] as const, "fargate")
  const serverless = (
    program: Pick<StackConfig, "analyzer" | "crmProvider" | "environment" | "workerConcurrency">
  ): ServerlessConfig => {
    const bundles = resolve(str("lambdaBundles", defaultBundles))
    const maxBatchingWindowSeconds = int("sqsMaxBatchingWindowSeconds", 1, 0)
    if (maxBatchingWindowSeconds > 300) errors.push("sqsMaxBatchingWindowSeconds: must be <= 300")
    const batchSize = int("sqsBatchSize", Math.min(10, program.workerConcurrency))
    if (batchSize > (maxBatchingWindowSeconds > 0 ? 10_000 : 10))
      errors.push("sqsBatchSize: must be <= 10 (<= 10000 with sqsMaxBatchingWindowSeconds > 0)")
    // A job cut at the timeout is stopped and run again, its work so far wasted: the timeout covers a batch
    const perLead = perLeadWorstCaseMs(program)
    const rounds = Math.ceil(batchSize / program.workerConcurrency)
    const worstCaseMs = consumerBatchWorstCaseMs(batchSize, program.workerConcurrency, perLead.ms, perLead.crmTimeoutMs)
    const neededSeconds = Math.ceil(worstCaseMs / 1000)
    // the default covers the worst case up to Lambda's maximum; past it, the refusal below says what to lower
    const consumerTimeoutSeconds = int(
      "lambdaConsumerTimeoutSeconds",
      Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, Math.max(60, neededSeconds))
    )
    const batchWorstCase = `sqsBatchSize ${batchSize} at workerConcurrency ${program.workerConcurrency} is ${rounds} round(s) of one lead's worst case, ${perLead.ms / 1000} s (${perLead.explained}), plus CRM_TIMEOUT_MS (jobs are stopped that long before the deadline) and 1 s: ${neededSeconds} s. Jobs cut at the timeout are stopped and run again, their work wasted`
    const lower = perLead.settings.length === 0 ? "" : `lower ${perLead.settings.join(" / ")} in environment`
    // the largest CRM_TIMEOUT_MS with which the batch fits in Lambda's maximum, the rest as it is
    const fittingCrmTimeoutMs = Math.floor(
      (LAMBDA_MAX_TIMEOUT_SECONDS * 1000 -
        CONSUMER_TIMEOUT_MARGIN_MS -
        rounds * (perLead.bedrockMs + perLead.enrichmentMs)) /
        (rounds * perLead.crmCalls + 1)
    )
    if (consumerTimeoutSeconds > LAMBDA_MAX_TIMEOUT_SECONDS)
      errors.push(`lambdaConsumerTimeoutSeconds: must be <= ${LAMBDA_MAX_TIMEOUT_SECONDS} (Lambda's maximum)`)
    else if (variant === "serverless" && neededSeconds > LAMBDA_MAX_TIMEOUT_SECONDS)
      errors.push(
        `lambdaConsumerTimeoutSeconds: no timeout covers a batch, Lambda's maximum is ${LAMBDA_MAX_TIMEOUT_SECONDS} s: ${batchWorstCase}. ${[
          ...(rounds > 1 ? ["Lower sqsBatchSize or raise workerConcurrency (one round at most)"] : []),
          ...(lower === "" ? [] : [lower]),
          ...(perLead.crmCalls > 0 && fittingCrmTimeoutMs > 0
            ? [`with the rest as it is, CRM_TIMEOUT_MS ${fittingCrmTimeoutMs} or less fits`]
            : [])
        ].join("; ")}`
      )
    else if (variant === "serverless" && consumerTimeoutSeconds * 1000 < worstCaseMs)
      errors.push(
        `lambdaConsumerTimeoutSeconds: ${consumerTimeoutSeconds} s does not cover a batch: ${batchWorstCase}. Raise lambdaConsumerTimeoutSeconds (at most ${LAMBDA_MAX_TIMEOUT_SECONDS}), lower sqsBatchSize or raise workerConcurrency${lower === "" ? "" : `, or ${lower}`}`
      )
    const maxConcurrency = int("consumerMaxConcurrency", 10, 2)
    if (maxConcurrency > 1000) errors.push("consumerMaxConcurrency: must be <= 1000")
    const maxReceiveCount = int("maxReceiveCount", 50)
    if (maxReceiveCount > 1000) errors.push("maxReceiveCount: must be <= 1000")
    const reserved = read("ingestReservedConcurrency")
    const ingestReservedConcurrency =
      reserved === undefined || reserved === null || reserved === "" ? undefined : int("ingestReservedConcurrency", 1)
    if (variant === "serverless") {
      if (tracing === "xray")
        errors.push("tracing: xray needs a collector sidecar; the serverless variant supports off or otlp")
      const missing = lambdaBundles.filter((name) => !existsSync(resolve(bundles, name, "index.mjs")))
      if (missing.length > 0)
        errors.push(
          `lambdaBundles: no ${missing.map((name) => `${name}/index.mjs`).join(", ")} in ${bundles}; run \`npm run build:bundles\` at the repository root first`
        )
    }
    return {
      bundles,
      ingestMemoryMiB: int("lambdaIngestMemoryMiB", 1024, 128),
      consumerMemoryMiB: int("lambdaConsumerMemoryMiB", 1024, 128),
      consumerTimeoutSeconds,
      batchSize,
      maxBatchingWindowSeconds,
      maxConcurrency,
      maxReceiveCount,
      ingestReservedConcurrency,
      sweepIntervalMinutes: int("sweepIntervalMinutes", 1),
      apiRateLimit: int("apiRateLimit", 500),
      apiBurstLimit: int("apiBurstLimit", 1000)
    }
  }

  const image = optional("image")
  const ecrRepository = optional("ecrRepository")
  const certificateArn = optional("certificateArn")
  const allowPlainHttp = bool("allowPlainHttp", false)
  if (variant === "fargate") {
    if (image === undefined && ecrRepository === undefined)
      errors.push(
        "image / ecrRepository: say where the tasks pull the image from: -c ecrRepository=<ECR repository of this account> (with -c imageTag=<tag>) or -c image=<registry>/<name>:<tag> (there is no public RevenueFlow image)"
      )
    if (image !== undefined && ecrRepository !== undefined)
      errors.push("image / ecrRepository: give one of them, not both")
    if (certificateArn === undefined && !allowPlainHttp)
      errors.push(
        "certificateArn: required, or API keys and webhook tokens travel in cleartext: give an ACM certificate's ARN for the HTTPS listener, or -c allowPlainHttp=true to serve plain HTTP on purpose"
      )
  }
  const crmProvider = oneOf("crmProvider", ["MOCK", "SALESFORCE", "HUBSPOT"] as const, "MOCK")
  const crmSecretArn = optional("crmSecretArn")
  if (crmSecretArn === undefined && crmProvider !== "MOCK")
    errors.push(
      `crmSecretArn: required with crmProvider=${crmProvider}: create the CRM secret and fill it before the deploy (\`aws secretsmanager create-secret\`, README "Deploy to AWS"), then pass -c crmSecretArn=<its ARN>`
    )
  if (
    crmSecretArn !== undefined &&
    !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(crmSecretArn)
  )
    errors.push(
      "crmSecretArn: must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>…)"
    )
  const mcpOnIngest = bool("mcpOnIngest", false)
  if (mcpOnIngest && variant === "serverless")
    errors.push(
      "mcpOnIngest: the Lambda ingest serves no /mcp (the ingest program does); use the Fargate variant or `revenueflow mcp`"
    )

  const workerConcurrency = int("workerConcurrency", 5)
  const programEnvironment = environment(variant)
  const stopTimeoutSeconds = stopTimeouts(programEnvironment)
  if (variant === "fargate") {
    if (stopTimeoutSeconds.consumer > ECS_MAX_STOP_TIMEOUT_SECONDS)
      errors.push(
        `environment.SHUTDOWN_TIMEOUT_MS: the consumer's drain (SHUTDOWN_TIMEOUT_MS + 2 s + CRM_TIMEOUT_MS + 12 s) is ${stopTimeoutSeconds.consumer} s, past ECS's longest stop timeout (${ECS_MAX_STOP_TIMEOUT_SECONDS} s): lower SHUTDOWN_TIMEOUT_MS or CRM_TIMEOUT_MS`
      )
    // the load balancer's idle timeout (services.ts): a keep-alive connection the ingest closes first gets a 502
    if (envMs(programEnvironment, "KEEP_ALIVE_TIMEOUT_MS", 65_000) <= 60_000)
      errors.push(
        "environment.KEEP_ALIVE_TIMEOUT_MS: must be longer than the load balancer's idle timeout (60 s), or the balancer sends requests on connections the ingest is closing and answers 502"
      )
  }
  // the consumer reads the database, Redis and CRM secrets alone: the enrichment provider's key goes in the last
  if (programEnvironment.ENRICHMENT_PROVIDER === "HTTP" && crmSecretArn === undefined)
    errors.push(
      "environment.ENRICHMENT_PROVIDER: HTTP needs ENRICHMENT_API_KEY in a secret the consumer reads: put it in the CRM secret and pass -c crmSecretArn=<its ARN> (with crmProvider=MOCK too); without it every consumer would exit at start naming the missing key"
    )
  const config: StackConfig = {
    variant,
    image,
    ecrRepository,
    imageTag: str("imageTag", "latest"),
    certificateArn,
    allowPlainHttp,
    crmProvider,
    crmSecretArn,
    mcpOnIngest,
    analyzer,
    bedrockModelId,
    workerConcurrency,
    rateLimits: {
      perLead: int("rateLimitPerLead", 10),
      perAccount: int("rateLimitPerAccount", 100),
      crm: int("rateLimitCrm", 1000),
      windowMs: int("rateLimitWindowMs", 60_000)
    },
    environment: programEnvironment,
    stopTimeoutSeconds,
    ingest: size("ingest", { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 10 }),
    consumer: size("consumer", { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 20 }),
    backlogPerTask: int("backlogPerTask", 100),
    maxWaitSeconds: int("maxWaitSeconds", 60),
    requestsPerTarget: int("requestsPerTarget", 30_000),
    natGateways: int("natGateways", 1),
    dbInstanceClass: str("dbInstanceClass", "t4g.small"),
    dbAllocatedStorageGiB: int("dbAllocatedStorageGiB", 20, 20),
    programDatabase: oneOf("programDatabase", ["revenueflow", "postgres"] as const, "revenueflow"),
    multiAz: bool("multiAz", true),
    deletionProtection: bool("deletionProtection", true),
    redisNodeType: str("redisNodeType", "cache.t4g.small"),
    rotationDays: int("rotationDays", 30),
    tracing,
    otlpEndpoint,
    logRetentionDays,
    alarmEmail: optional("alarmEmail"),
    serverless: serverless({ analyzer, crmProvider, environment: programEnvironment, workerConcurrency })
  }
  if (errors.length > 0) throw problems(errors)
  return config
}

/** The programs' settings both variants hand their tasks or functions, from the stack's configuration. */
export const programSettings = (config: StackConfig): Record<string, string> => ({
  LOG_FORMAT: "json",
  CRM_PROVIDER: config.crmProvider,
  ANALYZER: config.analyzer,
  ...(config.analyzer === "BEDROCK" ? { BEDROCK_MODEL_ID: config.bedrockModelId } : {}),
  WORKER_CONCURRENCY: String(config.workerConcurrency),
  RATE_LIMIT_PER_LEAD: String(config.rateLimits.perLead),
  RATE_LIMIT_PER_ACCOUNT: String(config.rateLimits.perAccount),
  RATE_LIMIT_CRM: String(config.rateLimits.crm),
  RATE_LIMIT_WINDOW_MS: String(config.rateLimits.windowMs)
})
