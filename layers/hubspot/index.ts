/** `revenueflow/hubspot`: the CrmExecutor on HubSpot (optional peer: @hubspot/api-client). */
export * as HubSpotCrm from "./CrmExecutor.js"
export { type HubSpotOptions, hubSpotConfig } from "./config.js"
