// The raw ingest baseline: the same work as POST /leads with no framework. node:http + postgres.js
// INSERT ... ON CONFLICT DO NOTHING RETURNING + BullMQ queue.add (job id = lead id), with JSON validation of
// roughly the same rigor (email pattern, campaignId bounds, known keys, string lengths). Plain JS: no loader.
// Env: DATABASE_URL, DATABASE_SCHEMA, REDIS_URL, REDIS_KEY_PREFIX, QUEUE_NAME, PORT (0 = any),
//      RAW_TRANSITION=1 also marks the lead QUEUED after enqueueing (what the real ingest does).
import { createHash } from "node:crypto"
import { createServer } from "node:http"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import postgres from "postgres"

const env = process.env
const sql = postgres(env.DATABASE_URL, {
  max: 10,
  onnotice: () => {},
  connection: { search_path: env.DATABASE_SCHEMA, statement_timeout: 5000 }
})
const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
const queue = new Queue(env.QUEUE_NAME ?? "lead-processing", {
  connection: redis,
  prefix: env.REDIS_KEY_PREFIX,
  defaultJobOptions: {
    attempts: 5,
    backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
    removeOnComplete: { count: 1000 },
    removeOnFail: false
  }
})
const transition = env.RAW_TRANSITION === "1"

const EMAIL = /^[^\s@"<>()[\]\\,;:]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/
const LIMITS = {
  firstName: 80,
  lastName: 80,
  company: 255,
  title: 128,
  phone: 32,
  website: 255,
  country: 64,
  source: 64,
  utmSource: 128,
  utmMedium: 128,
  utmCampaign: 128,
  utmTerm: 128,
  utmContent: 128
}
const OBJECTS = new Set(["activity", "attributes"])

/** The normalised lead, or a list of field errors. */
const validate = (body) => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { errors: ["body must be an object"] }
  const errors = []
  const lead = {}
  const email = typeof body.email === "string" ? body.email.trim().toLowerCase() : undefined
  if (email === undefined || email.length > 254 || !EMAIL.test(email)) errors.push("email")
  else lead.email = email
  const campaignId = typeof body.campaignId === "string" ? body.campaignId.trim() : undefined
  if (campaignId === undefined || campaignId.length < 1 || campaignId.length > 128) errors.push("campaignId")
  else lead.campaignId = campaignId
  for (const [key, value] of Object.entries(body)) {
    if (key === "email" || key === "campaignId") continue
    if (key in LIMITS) {
      const text = typeof value === "string" ? value.trim() : undefined
      if (text === undefined || text.length < 1 || text.length > LIMITS[key]) errors.push(key)
      else lead[key] = text
    } else if (OBJECTS.has(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      lead[key] = value
    } else errors.push(key)
  }
  return errors.length > 0 ? { errors } : { lead }
}

const view = (row) =>
  JSON.stringify({
    id: row.id,
    leadKey: row.lead_key,
    source: row.source,
    status: row.status,
    lead: row.input,
    actions: [],
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  })

const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers })
  res.end(body)
}

const accept = async (lead) => {
  const key = createHash("sha256").update(`${lead.email}:${lead.campaignId}`).digest("hex")
  const [row] = await sql`
    INSERT INTO leads (lead_key, source, status, input) VALUES (${key}, 'api', 'RECEIVED', ${sql.json(lead)})
    ON CONFLICT (lead_key) DO NOTHING
    RETURNING id, lead_key, source, status, input, created_at, updated_at`
  if (row === undefined) {
    const [existing] = await sql`
      SELECT id, lead_key, source, status, input, created_at, updated_at FROM leads WHERE lead_key = ${key}`
    return { status: 200, row: existing }
  }
  try {
    await queue.add("lead", { leadId: row.id }, { jobId: row.id })
  } catch {
    return { status: 202, row } // the outbox would pick it up; same contract as the real ingest
  }
  if (!transition) return { status: 202, row }
  const [moved] = await sql`
    UPDATE leads SET status = 'QUEUED', updated_at = now() WHERE id = ${row.id} AND status = 'RECEIVED'
    RETURNING id, lead_key, source, status, input, created_at, updated_at`
  return { status: 202, row: moved ?? row }
}

const server = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/leads") return send(res, 404, '{"title":"No such route"}')
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      return send(res, 400, '{"title":"invalid JSON"}')
    }
    const checked = validate(body)
    if (checked.errors) return send(res, 400, JSON.stringify({ title: "invalid lead", errors: checked.errors }))
    accept(checked.lead).then(
      ({ status, row }) => send(res, status, view(row), { location: `/leads/${row.id}` }),
      () => send(res, 503, '{"title":"store unavailable"}', { "retry-after": "5" })
    )
  })
})

server.listen(Number(env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`Listening on http://127.0.0.1:${server.address().port}`)
})
const shutdown = () => {
  server.close(async () => {
    await queue.close()
    redis.disconnect()
    await sql.end({ timeout: 5 })
    process.exit(0)
  })
  server.closeAllConnections()
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)
