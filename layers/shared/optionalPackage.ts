import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { InvalidConfiguration } from "./config.js"

/**
 * The package a failed import could not find (`jsforce`, `@hubspot/api-client`), or undefined when the failure is
 * anything else. Node's ESM loader says "Cannot find package 'x' imported from …" (ERR_MODULE_NOT_FOUND), its CJS
 * loader "Cannot find module 'x'" (MODULE_NOT_FOUND); a missing relative or absolute file is not a package.
 */
export const missingPackageOf = (error: unknown): string | undefined => {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return undefined
  const specifier = /Cannot find (?:package|module) '([^']+)'/.exec(String(message))?.[1]
  if (specifier === undefined || /^(?:[./]|[a-z]+:)/i.test(specifier)) return undefined
  const [first = "", second = ""] = specifier.split("/")
  return first.startsWith("@") ? `${first}/${second}` : first
}

/**
 * The range package.json declares for each optional peer (test/package/config.test.ts keeps them equal). An install
 * hint names it: unpinned, npm picks the newest, which for the Effect-scoped packages is Effect 4's line
 * (@effect/opentelemetry 4.x wants effect ^4: ERESOLVE) and for @opentelemetry/api one outside the OpenTelemetry
 * packages' peer range.
 */
export const optionalPeerRanges: Readonly<Record<string, string>> = {
  "@aws-sdk/client-bedrock-runtime": "^3.1164.0",
  "@aws-sdk/client-secrets-manager": "^3.1164.0",
  "@aws-sdk/client-sqs": "^3.1175.0",
  "@effect/opentelemetry": "^0.64.1",
  "@electric-sql/pglite": "^0.5.16",
  "@hubspot/api-client": "^14.0.1",
  "@modelcontextprotocol/sdk": "^1.32.2",
  "@opentelemetry/api": "~1.9.0",
  "@opentelemetry/exporter-trace-otlp-http": "^0.223.1",
  "@opentelemetry/resources": "^2.12.1",
  "@opentelemetry/sdk-trace-base": "^2.12.1",
  "@opentelemetry/semantic-conventions": "^1.45.0",
  "@smithy/node-http-handler": "^4.14.2",
  bullmq: "^5.81.5",
  ioredis: "^5.9.2",
  jsforce: "^3.10.26",
  postgres: "^3.4.9"
}

/** `npm install <package>@<the range RevenueFlow supports>` (the bare name for a package it declares no range for). */
export const installHint = (packageName: string): string => {
  const range = optionalPeerRanges[packageName]
  return `npm install ${range === undefined ? packageName : `${packageName}@${range}`}`
}

/** The start-up failure of a selected backend whose client package is not installed: names what to install. */
export const missingPackage = (selectedBy: string, packageName: string): InvalidConfiguration =>
  new InvalidConfiguration({
    message:
      `Invalid configuration:\n - ${selectedBy}: needs the package ${packageName}, which is not installed ` +
      `(${installHint(packageName)})`,
    keys: [selectedBy.split("=")[0] ?? selectedBy]
  })

/**
 * Imports a module whose backend the configuration selected (`selectedBy`, e.g. "CRM_PROVIDER=SALESFORCE"). A
 * provider client is an optional peer dependency: when it is not installed this fails with InvalidConfiguration
 * naming the package to install; any other failure to load is a defect.
 */
export const importSelected = <A>(selectedBy: string, load: () => Promise<A>): Effect.Effect<A, InvalidConfiguration> =>
  Effect.tryPromise({ try: load, catch: (error) => error }).pipe(
    Effect.catchAll((error) => {
      const name = missingPackageOf(error)
      return name === undefined ? Effect.die(error) : Effect.fail(missingPackage(selectedBy, name))
    })
  )

/**
 * A layer whose module is imported only when the configuration selects it (`selectedBy`): provider clients cost
 * hundreds of milliseconds to load and are optional peer dependencies, so an environment that does not select one
 * neither pays for it nor needs it installed.
 */
export const lazySelected = <A, E, R>(
  selectedBy: string,
  load: () => Promise<Layer.Layer<A, E, R>>
): Layer.Layer<A, E | InvalidConfiguration, R> => Layer.unwrapEffect(importSelected(selectedBy, load))
