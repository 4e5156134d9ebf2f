import * as Schema from "effect/Schema"

/**
 * What an identity field (email, campaignId) may not hold: C0 / C1 controls (Cc), format characters (Cf: bidi marks,
 * embeddings, overrides and isolates, zero-width characters, the BOM), every other default-ignorable code point
 * (Hangul fillers, variation selectors, tags...) and the line / paragraph separators. Two identities that look the
 * same to a person must not be two leads, and an invisible campaign id must not pass as a non-empty one.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/u

/** Refuses invisible characters in an identity field; the message names the field. */
export const refuseInvisible =
  (name: string) =>
  <S extends Schema.Schema.Any>(self: S) =>
    Schema.filter<S>((text) => !INVISIBLE.test(String(text)), {
      message: () => `${name} must not contain control, bidi or invisible characters`
    })(self)

/**
 * What free text loses on decode: controls other than tab, LF and CR; bidi embeddings, overrides and isolates
 * (U+202A-E, U+2066-9: they reorder what a CRM user reads, "Trojan Source" style); and invisible characters that
 * carry nothing (soft hyphen, Mongolian vowel separator, zero-width space, word joiner and invisible operators, BOM,
 * interlinear annotation, tag characters, which can smuggle text to a model); and lone surrogates, so that dropping
 * never joins two halves into a new character (one pass is enough). ZWJ / ZWNJ, direction marks (LRM, RLM,
 * ALM) and variation selectors stay: Persian, Indic scripts, RTL text and emoji need them.
 */
const HIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this removes
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u180E\u200B\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\uFFF9-\uFFFB\u{E0000}-\u{E007F}\p{Cs}]/gu

const ONE_HIDDEN = new RegExp(HIDDEN.source, "u")

/** The first character of `text` free text drops (see HIDDEN), as "U+202E"; undefined when there is none. */
export const hiddenCharacter = (text: string): string | undefined => {
  const found = ONE_HIDDEN.exec(text)?.[0]
  return found === undefined ? undefined : `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`
}

/** `text` without the characters free text drops (see HIDDEN); the same string when there are none. */
export const dropHidden = (text: string): string => text.replace(HIDDEN, "")

/** A string whose hidden characters are dropped on decode (encoding gives the cleaned text back unchanged). */
export const FreeText = Schema.transform(
  // the encoded side is what the OpenAPI document shows
  Schema.String.annotations({
    description: "free text: bidi overrides, zero-width characters and controls other than tab and newline are dropped"
  }),
  Schema.String,
  {
    strict: true,
    decode: dropHidden,
    encode: (text) => text
  }
)

/**
 * What a CRM tool's text argument may not hold: NUL and the other C0 controls free text drops (all but tab, LF and
 * CR), and unpaired surrogates. Postgres cannot store NUL (text or jsonb) nor an unpaired surrogate (jsonb), XML 1.0
 * (Salesforce's SOAP calls) cannot carry a C0 control, and UTF-8 has no surrogate. Refused, not dropped as intake
 * does: an action's key hashes its arguments, and an agent's text must reach the CRM as sent or not at all. DEL and
 * C1 controls pass: every store and CRM API carries them.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this refuses
const UNSENDABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\p{Cs}]/u

/** Whether `text` holds no NUL, other C0 control but tab / LF / CR, or unpaired surrogate (see UNSENDABLE). */
export const isSendableText = (text: string): boolean => !UNSENDABLE.test(text)

/** Refuses control characters (tab, LF and CR pass) and unpaired surrogates; the path names the field. */
export const refuseUnsendable = <S extends Schema.Schema<string, string, never>>(self: S) =>
  Schema.filter<S>((text) => isSendableText(text), {
    message: () => "must not contain NUL, another control character (tab and line breaks pass) or an unpaired surrogate"
  })(self)
