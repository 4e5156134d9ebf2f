/**
 * Salesforce record ids come in two forms: 15 characters, case-sensitive (what Classic URLs and reports show), and 18,
 * the same 15 followed by a 3-character checksum of their letters' case, which the API answers with and which reads the
 * same however it is cased. One record, two spellings: anything that keys on an id must first bring it to one form.
 */

const SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
const ID_15 = /^[A-Za-z0-9]{15}$/
const ID_18 = /^[A-Za-z0-9]{15}[A-Za-z0-5]{3}$/

/** The checksum of a 15-character id: per 5-character chunk, one bit per upper-case letter, as a letter of A-Z0-5. */
const caseChecksum = (id15: string): string =>
  [0, 5, 10]
    .map((start) => {
      let bits = 0
      for (let offset = 0; offset < 5; offset++) {
        const code = id15.charCodeAt(start + offset)
        if (code >= 65 && code <= 90) bits += 2 ** offset
      }
      return SUFFIX_ALPHABET[bits]
    })
    .join("")

/**
 * The 15 characters an 18-character id stands for: each letter in the case its checksum records (the checksum is what
 * makes the long form case-insensitive), or undefined when the checksum marks a digit as upper-case.
 */
const restoredCase = (id18: string): string | undefined => {
  let id15 = ""
  for (let chunk = 0; chunk < 3; chunk++) {
    const bits = SUFFIX_ALPHABET.indexOf(id18.charAt(15 + chunk).toUpperCase())
    for (let offset = 0; offset < 5; offset++) {
      const char = id18.charAt(chunk * 5 + offset)
      const upper = (bits & (1 << offset)) !== 0
      if (upper && !/[A-Za-z]/.test(char)) return undefined
      id15 += upper ? char.toUpperCase() : char.toLowerCase()
    }
  }
  return id15
}

/**
 * `id` in its 18-character form, as the API writes it, from either form however an 18-character one is cased; an id
 * that is neither (malformed, or a checksum no case of its letters matches) comes back unchanged, for Salesforce to
 * refuse by name.
 */
export const salesforceId18 = (id: string): string => {
  if (ID_15.test(id)) return `${id}${caseChecksum(id)}`
  if (!ID_18.test(id)) return id
  const id15 = restoredCase(id)
  return id15 === undefined ? id : `${id15}${caseChecksum(id15)}`
}
