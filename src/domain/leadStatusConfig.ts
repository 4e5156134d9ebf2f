import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import { type LeadStatusMap, parseLeadStatusMap } from "./leadStatus.js"

/** A lead status map from `name` ("Nurture=IN_PROGRESS,..."), over `defaults`; a bad entry fails start-up. */
export const leadStatusMapConfig = (name: string, defaults: LeadStatusMap): Config.Config<LeadStatusMap> =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.mapOrFail((text) =>
      Either.mapLeft(parseLeadStatusMap(text, defaults), (message) => ConfigError.InvalidData([name], message))
    )
  )
