import { runConsumer } from "../../src/pipeline/consumer.js"

export { awaitStatus, submit } from "../../layers/testing/index.js"

/** Start the consumer in the current scope. */
export const startConsumer = runConsumer
