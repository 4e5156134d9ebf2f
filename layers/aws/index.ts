/**
 * `revenueflow/aws`: configuration from AWS Secrets Manager over the environment, refreshing (optional peer:
 * @aws-sdk/client-secrets-manager, loaded only when AWS_SECRETS_IDS is set).
 */
export * as SecretsConfig from "./SecretsConfig.js"
