import { ConsumerProgram } from "./layers.js"
import { runProgram } from "./main.js"

runProgram(ConsumerProgram, "json")
