import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Layer from "effect/Layer"
import { ConsumerProgram, logging } from "./layers.js"

ConsumerProgram.pipe(Layer.provide(logging("json")), Layer.launch, NodeRuntime.runMain({ disablePrettyLogger: true }))
