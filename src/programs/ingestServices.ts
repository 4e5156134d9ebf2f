import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import { layerIngestFromConfig } from "../../layers/ingestPreset.js"

/**
 * The stores, the queue and metrics chosen by configuration, with AppConfig (ingest, CLI). Its own module so that
 * the ingest's bundle holds none of the CRM, analyser or enrichment code.
 */
export const IngestServicesLive = layerIngestFromConfig.pipe(Layer.provideMerge(ConfigLayer.layer))
