// A local harness of the Lambda handlers (revenueflow/lambda): one sweep on Postgres + Redis, then dispose(). Prints
// the sweep's answer and how long the process lived on after it. Run by lambda.test.ts as its own process.
import { dispose, sweepHandler } from "../../src/lambda/index.js"

console.log(`sweep: ${JSON.stringify(await sweepHandler({}))}`)
if (process.argv[2] !== "--no-dispose") await dispose()
const released = performance.now()
process.on("exit", () => console.log(`exited ${Math.round(performance.now() - released)} ms after the dispose`))
