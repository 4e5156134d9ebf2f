// The test environments ship with the library (revenueflow/testing); the suites use them from there.
import { memoryEnv, productionEnv } from "../../layers/testing/index.js"

export {
  configFrom,
  memoryEnv,
  productionEnv,
  sampleLead,
  type TestOptions,
  testEnv
} from "../../layers/testing/index.js"

/** Every backend the behaviour suites run on. */
export const backends = [
  ["memory", memoryEnv],
  ["postgres + redis + bullmq", productionEnv]
] as const
