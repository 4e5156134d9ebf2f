import { readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/**
 * The Region a profile's section of the shared AWS config file names (AWS_CONFIG_FILE, else ~/.aws/config; the
 * profile AWS_PROFILE, else `default`), as the SDK reads it; undefined when there is no such file, section or key.
 */
const sharedConfigRegion = (env: NodeJS.ProcessEnv): string | undefined => {
  let text: string
  try {
    text = readFileSync(env.AWS_CONFIG_FILE ?? join(homedir(), ".aws", "config"), "utf8")
  } catch {
    return undefined
  }
  const profile = env.AWS_PROFILE?.trim() || "default"
  let inProfile = false
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, "").trim()
    const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line)
    if (section) inProfile = section[1] === profile
    else if (inProfile) {
      const region = /^region\s*=\s*(\S+)$/.exec(line)?.[1]
      if (region !== undefined) return region
    }
  }
  return undefined
}

/**
 * Whether the AWS SDK will find a Region: AWS_REGION or AWS_DEFAULT_REGION in the process's environment (what the SDK
 * reads, whatever the program's ConfigProvider holds), or the shared config file's profile.
 */
export const awsRegionFound = (env: NodeJS.ProcessEnv = process.env): boolean =>
  [env.AWS_REGION, env.AWS_DEFAULT_REGION, sharedConfigRegion(env)].some(
    (region) => region !== undefined && region.trim() !== ""
  )

/**
 * A start-up check for a program that calls AWS (`needs` says what: "ANALYZER=BEDROCK"): without a Region every call
 * fails ("Region is missing"), a lead at a time (Bedrock) or every second for ever (the SQS poller), so start-up
 * refuses, naming AWS_REGION with the check's other findings.
 */
export const awsRegionConfig = (needs: string): Config.Config<void> =>
  Config.all([
    Config.option(Config.string("AWS_REGION")),
    Config.option(Config.string("AWS_DEFAULT_REGION")),
    Config.sync(() => awsRegionFound())
  ]).pipe(
    // the settings as the program reads them (a test's ConfigProvider), then what the SDK itself reads
    Config.mapOrFail(([region, defaultRegion, found]) =>
      found || [region, defaultRegion].some((value) => Option.isSome(value) && value.value.trim() !== "")
        ? Either.right(undefined)
        : Either.left(
            ConfigError.InvalidData(
              ["AWS_REGION"],
              `is missing: required with ${needs} (the AWS SDK finds no Region: set AWS_REGION, or a region in the shared AWS config's profile)`
            )
          )
    )
  )
