/** `revenueflow/salesforce`: the CrmExecutor on Salesforce through jsforce (optional peer: jsforce). */
export * as SalesforceCrm from "./CrmExecutor.js"
export { type SalesforceOptions, salesforceConfig } from "./config.js"
