// The Lambda handler bundles (npm run build:bundles): dist/lambda/<name>/index.mjs, each exporting `handler`
// (the function's handler setting: "index.handler"), with its lazy chunks beside it and no node_modules needed.
// The ingest carries the console's and Swagger UI's files too (/docs, /console).

export const lambdas = [
  { name: "lambda/ingest", entry: "src/lambda/ingest.ts", assets: true },
  { name: "lambda/consumer", entry: "src/lambda/consumer.ts" },
  { name: "lambda/sweep", entry: "src/lambda/sweep.ts" }
]
