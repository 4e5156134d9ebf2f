import { createHash } from "node:crypto"

/** Hex sha256 of a string. */
export const sha256Hex = (value: string): string => createHash("sha256").update(value, "utf8").digest("hex")

/** The lead key: sha256(lower(trim(email)) + ":" + trim(campaignId)), hex. Two submissions of one lead share it. */
export const leadKey = (email: string, campaignId: string): string =>
  sha256Hex(`${email.trim().toLowerCase()}:${campaignId.trim()}`)
