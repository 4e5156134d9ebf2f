import type * as Arbitrary from "effect/Arbitrary"

/** Every ASCII character a dot-atom local part may hold. */
const atext = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.".split("")

/**
 * Local-part pieces the schema accepts and a redactor is likely to miss: non-ASCII names, apostrophes, tildes,
 * braces, plus tags, and the ASCII symbols RFC 5322 allows.
 */
const pieces = [
  "jürgen.müller",
  "josé.ñúñez",
  "o'brien",
  "~tilde",
  "{brace}",
  "a+tag",
  "straße",
  "çelik",
  "дмитрий",
  "王芳",
  "ελένη",
  "😀",
  "#!$&*/?^`|",
  "100%",
  "user=x",
  ".dot."
]

/**
 * Addresses in the shape Email accepts, aimed at its corners (the generic generator for its pattern only ever makes
 * ASCII). `valid` is the schema's own check, so every address generated is one the schema accepts.
 */
export const emailArbitrary =
  (valid: (email: string) => boolean): Arbitrary.LazyArbitrary<string> =>
  (fc) => {
    const local = fc
      .array(
        fc.oneof(
          fc.constantFrom(...pieces),
          fc.constantFrom(...atext),
          fc.string({ unit: "grapheme", minLength: 1, maxLength: 2 })
        ),
        { minLength: 1, maxLength: 6 }
      )
      .map((parts) => parts.join(""))
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/)
    const domain = fc
      .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/))
      .map(([labels, tld]) => [...labels, tld].join("."))
    return fc
      .tuple(local, domain)
      .map(([user, host]) => `${user}@${host}`.toLowerCase())
      .filter(valid)
  }
