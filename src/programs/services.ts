import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import { layerFromConfig } from "../../layers/presets.js"

/** Every service chosen by configuration, with AppConfig (consumer, dev). */
export const ServicesLive = layerFromConfig.pipe(Layer.provideMerge(ConfigLayer.layer))
