/** `revenueflow/bedrock`: the Analyzer on AWS Bedrock Converse (optional peer: @aws-sdk/client-bedrock-runtime). */
export * as BedrockAnalyzer from "./Analyzer.js"
export { type BedrockAnalyzerOptions, config as bedrockConfig } from "./config.js"
