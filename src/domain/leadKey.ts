import { hash } from "node:crypto"

/** Hex sha256 of a string (its UTF-8 bytes); the one-shot `hash` makes no Hash object, at half the cost per call. */
export const sha256Hex = (value: string): string => hash("sha256", value, "hex")

const ASCII = /^[\x20-\x7e]*$/

/**
 * `text` in Unicode normal form C: "josé" written with U+00E9 and with "e" + U+0301 (as some keyboards and
 * copy-paste give it) become one string. Printable ASCII is its own normal form: returned as it is, unexamined.
 */
export const nfc = (text: string): string => (ASCII.test(text) ? text : text.normalize("NFC"))

/** An email as lead keys compare it: trimmed, in normal form C, lower-cased (as the `Email` schema decodes it). */
export const normalEmail = (email: string): string => nfc(email.trim()).toLowerCase()

/** A campaign id as lead keys compare it: trimmed, in normal form C (as the `CampaignId` schema decodes it). */
export const normalCampaign = (campaignId: string): string => nfc(campaignId.trim())

/**
 * The lead key: sha256(lower(nfc(trim(email))) + ":" + nfc(trim(campaignId))), hex. Two submissions of one lead
 * share it, however the email is cased or composed; callers may pass the text as received.
 */
export const leadKey = (email: string, campaignId: string): string =>
  sha256Hex(`${normalEmail(email)}:${normalCampaign(campaignId)}`)
