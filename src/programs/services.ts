import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import { layerFromConfig } from "../../layers/presets.js"

/** Services chosen by configuration, with AppConfig. */
export const ServicesLive = layerFromConfig.pipe(Layer.provideMerge(ConfigLayer.layer))
