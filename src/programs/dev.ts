import { DevProgram } from "./layers.js"
import { runProgram } from "./main.js"

runProgram(DevProgram, "pretty")
