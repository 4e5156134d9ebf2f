import { IngestProgram } from "./layers.js"
import { runProgram } from "./main.js"

runProgram(IngestProgram, "json")
