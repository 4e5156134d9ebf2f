import type { Agent } from "node:http"
import * as associations from "@hubspot/api-client/lib/codegen/crm/associations/v4/index.js"
import * as companies from "@hubspot/api-client/lib/codegen/crm/companies/index.js"
import * as contacts from "@hubspot/api-client/lib/codegen/crm/contacts/index.js"
import * as deals from "@hubspot/api-client/lib/codegen/crm/deals/index.js"
import * as notes from "@hubspot/api-client/lib/codegen/crm/objects/notes/index.js"
import * as tasks from "@hubspot/api-client/lib/codegen/crm/objects/tasks/index.js"
import * as properties from "@hubspot/api-client/lib/codegen/crm/properties/index.js"
import { ApiClientConfigurator } from "@hubspot/api-client/lib/src/configuration/ApiClientConfigurator.js"

/** What the adapter's APIs are built with. */
export interface ApisConfig {
  readonly accessToken: string
  readonly basePath: string
  readonly httpAgent: Agent
}

/** One generated API module: its configuration factory, server class and observable (each module has its own). */
interface CodegenModule<Configuration> {
  readonly createConfiguration: (options: never) => Configuration
  readonly ServerConfiguration: new (url: string, variables: { [key: string]: string }) => unknown
  readonly Observable: new (promise: Promise<never>) => unknown
}

/**
 * The generated response processors parse every answer by its Content-Type and throw a plain "Cannot parse content. No
 * Content-Type defined." when it has none: a 429 or 503 from a proxy in front of HubSpot (no body, or a body without
 * a type) lost its status, so a rate limit became an "unreachable" retry with backoff instead of a wait for its
 * Retry-After, and a refusal could not be told from a dropped connection. An answer that is not a success and names
 * no type is read as text, so it comes out as the client's ApiException with its status, headers and body.
 */
const typelessFailureAsText = {
  post: (context: { httpStatusCode: number; headers: Record<string, string> }) => {
    if (context.httpStatusCode >= 300 && !context.headers["content-type"])
      context.headers["content-type"] = "text/plain"
    return context
  }
}

/**
 * The module's configuration as @hubspot/api-client's own discovery classes build it (auth, base path, User-Agent,
 * the HTTP agent), through the same ApiClientConfigurator.
 */
const configurationOf = <Configuration>(module: CodegenModule<Configuration>, config: ApisConfig): Configuration =>
  module.createConfiguration(
    ApiClientConfigurator.getParams(
      {
        accessToken: config.accessToken,
        basePath: config.basePath,
        httpAgent: config.httpAgent,
        middleware: [typelessFailureAsText as never]
      },
      module.ServerConfiguration,
      module.Observable,
      module.Observable
    ) as never
  )

/**
 * The generated APIs the adapter calls, made directly on configurations of its own: NOT through `new Client()`, whose
 * constructor sets the decorators (retries, limiter) of a process-wide singleton (ApiDecoratorService) that wraps every
 * API a `Client` of the process builds afterwards. So another Client of an embedding app can neither add hidden retries
 * to the adapter's calls nor have its own settings replaced when the adapter connects (at start, on token rotation).
 * No decorator is applied: the queue owns retries and the RateLimiter owns pacing.
 */
export const makeApis = (config: ApisConfig) => {
  const contactsConfig = configurationOf(contacts, config)
  const companiesConfig = configurationOf(companies, config)
  const dealsConfig = configurationOf(deals, config)
  return {
    contacts: {
      basicApi: new contacts.BasicApi(contactsConfig),
      batchApi: new contacts.BatchApi(contactsConfig)
    },
    companies: {
      basicApi: new companies.BasicApi(companiesConfig),
      batchApi: new companies.BatchApi(companiesConfig),
      searchApi: new companies.SearchApi(companiesConfig)
    },
    deals: {
      basicApi: new deals.BasicApi(dealsConfig),
      batchApi: new deals.BatchApi(dealsConfig)
    },
    tasks: { batchApi: new tasks.BatchApi(configurationOf(tasks, config)) },
    notes: { batchApi: new notes.BatchApi(configurationOf(notes, config)) },
    properties: { coreApi: new properties.CoreApi(configurationOf(properties, config)) },
    associations: { basicApi: new associations.BasicApi(configurationOf(associations, config)) }
  }
}

/** The adapter's HubSpot APIs. */
export type HubSpotApis = ReturnType<typeof makeApis>
