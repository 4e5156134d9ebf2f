// Configuration from code as an embedding app sees it (the root entry's layerWith): the app's own Config reads keep
// their environment, RevenueFlow's layers read the options, a setting that does not exist is refused by name.
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { type AppConfigOptions, AppConfig, checkConfig, layerWith, providerOf, settingNames } from "../../src/index.js"
import { configEnvVars } from "../ops/envVars.js"
import { withProcessEnv } from "../support/processEnv.js"
import { root } from "./app.js"

/** `effect` in a ManagedRuntime of `layer`, as the README builds the app's. */
const inRuntime = async <A, E>(layer: Layer.Layer<AppConfig, E>, effect: Effect.Effect<A, unknown, AppConfig>) => {
  const runtime = ManagedRuntime.make(layer)
  try {
    return await runtime.runPromise(effect)
  } finally {
    await runtime.dispose()
  }
}

const fromMap = (vars: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(vars)))

describe("layerWith in an app's runtime", () => {
  it("the app's own Config reads still see its environment", () =>
    withProcessEnv({ RF_HOST_APP_PORT: "8080" }, async () => {
      const [mine, concurrency] = await inRuntime(
        layerWith({ workerConcurrency: 4 }),
        Effect.all([
          Config.string("RF_HOST_APP_PORT").pipe(Config.withDefault("<default>")),
          Effect.map(AppConfig, (config) => config.workerConcurrency)
        ])
      )
      expect(mine).toBe("8080")
      expect(concurrency).toBe(4)
    }))

  it("the app's own ConfigProvider stays in place for its names (a path patch of its own included)", async () => {
    const host = ConfigProvider.constantCase(fromMap({ RF_HOST_SETTING: "from the app", JOB_ATTEMPTS: "9" }))
    const [mine, attempts] = await inRuntime(
      layerWith({ jobAttempts: 2 }).pipe(Layer.provide(Layer.setConfigProvider(host))),
      Effect.all([Config.string("rfHostSetting"), Effect.map(AppConfig, (config) => config.jobAttempts)])
    )
    expect(mine).toBe("from the app")
    expect(attempts).toBe(2)
  })

  it("RevenueFlow's settings come from the options only, unless fallbackToEnv (options first)", () =>
    withProcessEnv({ DATABASE_SCHEMA: "from_env", QUEUE_NAME: "from-env" }, async () => {
      const schema = Config.option(Config.string("DATABASE_SCHEMA"))
      const queue = Config.string("QUEUE_NAME")
      const alone = await inRuntime(layerWith({}), Effect.either(Effect.all([schema, queue])))
      expect(alone._tag === "Right" ? alone.right : "failed").toBe("failed")
      expect(await inRuntime(layerWith({}), schema)).toEqual(Option.none())
      const withEnv = await inRuntime(
        layerWith({ fallbackToEnv: true, settings: { QUEUE_NAME: "from-code" } }),
        Effect.all([schema, queue])
      )
      expect(withEnv).toEqual([Option.some("from_env"), "from-code"])
    }))
})

describe("layerWith's settings", () => {
  const refusal = (options: AppConfigOptions) =>
    Effect.runPromise(Effect.flip(Effect.provide(AppConfig, layerWith(options))))

  it("refuses a name that is no setting, with the one it resembles, in one pass with the bad values", async () => {
    const error = await refusal({ jobAttempts: 0, settings: { DATABASE_SHEMA: "oops", WORKER_CONCURENCY: 9 } })
    expect(error._tag).toBe("InvalidConfiguration")
    expect([...error.keys].sort()).toEqual(["DATABASE_SHEMA", "JOB_ATTEMPTS", "WORKER_CONCURENCY"])
    expect(error.message).toContain("DATABASE_SHEMA: is not a RevenueFlow setting (did you mean DATABASE_SCHEMA?)")
    expect(error.message).toContain(
      "WORKER_CONCURENCY: is not a RevenueFlow setting (did you mean WORKER_CONCURRENCY?)"
    )
    expect(error.message).toContain("JOB_ATTEMPTS: must be a positive integer")
    expect(error.message).not.toContain("oops")
  })

  it("refuses LOG_LEVEL: logging is the app's", async () => {
    const error = await refusal({ settings: { LOG_LEVEL: "Warn" } })
    expect(error.keys).toEqual(["LOG_LEVEL"])
    expect(error.message).toContain("LOG_LEVEL: logging is your app's")
    expect(error.message).toContain("Logger.minimumLogLevel")
  })

  it("takes undefined for any field, as an unset environment variable gives it (exactOptionalPropertyTypes)", async () => {
    const unset: string | undefined = process.env.RF_SURELY_UNSET_VARIABLE
    const options: AppConfigOptions = {
      databaseUrl: unset,
      redisUrl: unset,
      port: Number(unset) || undefined,
      rateLimits: { perLead: undefined },
      webhooks: undefined,
      settings: { DATABASE_SCHEMA: unset }
    }
    const config = await Effect.runPromise(Effect.provide(AppConfig, layerWith(options)))
    expect(config.port).toBe(3000)
    expect(config.databaseUrl._tag).toBe("None")
  })

  it("knows every setting the code reads (the names Config reads in services/, layers/, src/)", () => {
    const read = [...configEnvVars(root, ["services", "layers", "src"]).keys()]
    expect([...settingNames].sort()).toEqual(read.filter((name) => !name.startsWith("LOG_")).sort())
  })
})

describe("checking the configuration from code", () => {
  it("checkConfig under providerOf(options) lists every bad key in one pass", async () => {
    const error = await Effect.runPromise(
      Effect.flip(checkConfig.pipe(Effect.withConfigProvider(providerOf({ jobAttempts: 0, crmProvider: "HUBSPOT" }))))
    )
    expect(error._tag).toBe("InvalidConfiguration")
    expect(error.keys).toEqual(expect.arrayContaining(["JOB_ATTEMPTS", "HUBSPOT_ACCESS_TOKEN"]))
  })
})
