import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig, appConfig } from "../services/AppConfig.js"

/** AppConfig from the environment (and whatever ConfigProvider is installed, e.g. Secrets Manager). */
export const layer = Layer.effect(AppConfig, appConfig)

/** AppConfig with explicit overrides on top of the environment's values (tests, embedding apps). */
export const layerWith = (overrides: Partial<AppConfig.Service>) =>
  Layer.effect(
    AppConfig,
    Effect.map(appConfig, (config) => ({ ...config, ...overrides }))
  )
