import { hash } from "node:crypto"

/** Hex sha256 of a string (its UTF-8 bytes); the one-shot `hash` makes no Hash object, at half the cost per call. */
export const sha256Hex = (value: string): string => hash("sha256", value, "hex")

/** The lead key: sha256(lower(trim(email)) + ":" + trim(campaignId)), hex. Two submissions of one lead share it. */
export const leadKey = (email: string, campaignId: string): string =>
  sha256Hex(`${email.trim().toLowerCase()}:${campaignId.trim()}`)
