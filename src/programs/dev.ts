/**
 * `npm start`: ingest and consumer in one process on embedded defaults. Loading the program and opening the embedded
 * database take a few seconds (more on the very first start, which creates it), so this entry says what it is doing
 * before it imports anything heavy; the banner follows once both halves answer.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"

const dataDir = join(process.env.DATA_DIR || ".data", "pglite")
const creating = !process.env.DATABASE_URL && !existsSync(dataDir)
const doing = creating ? `: creating the embedded database in ${dataDir} (first start only)` : ""
process.stdout.write(`Starting RevenueFlow (ingest and consumer in one process)${doing}…\n`)

const { startDev } = await import("./devProgram.js")
startDev()
