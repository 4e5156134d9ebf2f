import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Layer from "effect/Layer"
import { IngestProgram, logging } from "./layers.js"

IngestProgram.pipe(Layer.provide(logging("json")), Layer.launch, NodeRuntime.runMain({ disablePrettyLogger: true }))
