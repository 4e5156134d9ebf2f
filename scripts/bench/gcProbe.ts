// What survives V8's young-generation collections when one Postgres statement is awaited in different ways: the
// consumer keeps ~55 KiB of each lead alive at a scavenge (`npm run bench:consumer -- --gc`), and this isolates the
// smallest case that shows it. Each way runs in a fresh process under --trace-gc-nvp: 3,000 statements to warm up,
// then --n (60,000) measured, one at a time, on one postgres.js connection; per statement: CPU, bytes allocated, bytes
// of young objects alive at a scavenge and bytes promoted to the old generation.
//   npx tsx scripts/bench/gcProbe.ts [--n 60000]
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import postgres from "postgres"
import { wholeNumberOption } from "./lib/args.js"
import { databaseUrl } from "./lib/env.js"
import { summarizeGc } from "./lib/gcTrace.js"
import { table } from "./lib/table.js"

const ways = {
  "promise .then": "the query's own promise, nothing else",
  "Effect.tryPromise": "Effect.runPromise(Effect.tryPromise(() => query))",
  "Effect.async": "Effect.runPromise(Effect.async(resume => query.then(resume)))",
  "Effect.async, setImmediate": "the same runtime path resumed by a timer instead of a query (no Postgres)"
} as const
type Way = keyof typeof ways

const child = async (way: Way, n: number) => {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  const query = () => sql.unsafe("select $1::text as a, $2::int as b", ["x", 1], { prepare: true })
  const op: () => Promise<unknown> =
    way === "promise .then"
      ? () => new Promise((resolve, reject) => query().then(resolve, reject))
      : way === "Effect.tryPromise"
        ? () => Effect.runPromise(Effect.tryPromise(() => query()))
        : way === "Effect.async"
          ? () =>
              Effect.runPromise(
                Effect.async<unknown>((resume) => {
                  query().then(
                    (rows) => resume(Effect.succeed(rows)),
                    (error) => resume(Effect.die(error))
                  )
                })
              )
          : () =>
              Effect.runPromise(Effect.async<number>((resume) => void setImmediate(() => resume(Effect.succeed(1)))))
  try {
    for (let i = 0; i < 3000; i++) await op()
    console.log("=== measured from here")
    const before = process.cpuUsage()
    for (let i = 0; i < n; i++) await op()
    const cpu = process.cpuUsage(before)
    console.log(`=== cpu ${(cpu.user + cpu.system) / n}`)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

const argv = process.argv.slice(2)
const n = wholeNumberOption(argv, "--n", 60_000, 1)
if (argv.includes("--child")) {
  await child(argv[argv.indexOf("--child") + 1] as Way, n)
} else {
  const rows: Array<Array<string | number>> = []
  for (const way of Object.keys(ways) as Array<Way>) {
    const run = spawnSync(
      process.execPath,
      ["--trace-gc-nvp", "--import", "tsx", fileURLToPath(import.meta.url), "--child", way, "--n", String(n)],
      { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }
    )
    if (run.status !== 0) throw new Error(`${way}: exited ${run.status}\n${run.stderr}`)
    const lines = run.stdout.split("\n")
    const from = lines.indexOf("=== measured from here")
    const end = lines.findIndex((line) => line.startsWith("=== cpu "))
    const gc = summarizeGc(lines.slice(from, end), n)
    rows.push([
      way,
      Number(lines[end]?.slice("=== cpu ".length)),
      gc.allocatedKiB * 1024,
      gc.survivedKiB * 1024,
      gc.promotedKiB * 1024,
      `${((100 * gc.survivedKiB) / Math.max(1e-9, gc.allocatedKiB)).toFixed(1)} %`
    ])
  }
  console.log(`one statement at a time, ${n} measured, per statement:`)
  console.log(
    table(["awaited through", "cpu µs", "bytes allocated", "alive at a scavenge", "promoted", "alive/allocated"], rows)
  )
  console.log()
  for (const [way, what] of Object.entries(ways)) console.log(`${way}: ${what}`)
}
