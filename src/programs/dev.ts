import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Layer from "effect/Layer"
import { DevProgram, logging } from "./layers.js"

DevProgram.pipe(Layer.provide(logging("pretty")), Layer.launch, NodeRuntime.runMain({ disablePrettyLogger: true }))
