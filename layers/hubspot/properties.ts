import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"

/** What the executor needs of a HubSpot property definition (GET /crm/v3/properties/{objectType}). */
export interface PropertyDefinition {
  readonly name: string
  /** HubSpot's data type: string, number, enumeration, bool, date, datetime, phone_number... */
  readonly type: string
  readonly options: ReadonlyArray<{ readonly label: string; readonly value: string }>
  /** Calculated or otherwise read-only: HubSpot refuses writes to it. */
  readonly readOnly: boolean
  /** Its options live elsewhere (a deal's stage: the pipelines) and are not listed: HubSpot alone can check a value. */
  readonly externalOptions: boolean
}

/** One object type's property definitions, by internal name. */
export type Definitions = ReadonlyMap<string, PropertyDefinition>

/** A value left out of a write, and why: shown in the action's result (the audit row). */
export interface Omitted {
  readonly property: string
  readonly reason: string
}

/** How long read definitions are trusted: a portal's properties change rarely, and a refused write drops them. */
export const definitionsTtl = Duration.minutes(5)

// "Computer Software", "computer-software" and "COMPUTER_SOFTWARE" are one option; "Software" is none of them.
const loose = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "")

const enumerationValue = (definition: PropertyDefinition, text: string): string | undefined => {
  const exact = definition.options.find((o) => o.value === text)
  if (exact !== undefined) return exact.value
  const wanted = loose(text)
  if (wanted === "") return undefined
  const values = new Set(
    definition.options.filter((o) => loose(o.value) === wanted || loose(o.label) === wanted).map((o) => o.value)
  )
  // Two options that both match loosely would be a guess: leave it out.
  return values.size === 1 ? [...values][0] : undefined
}

const adaptOne = (
  objectType: string,
  definition: PropertyDefinition | undefined,
  name: string,
  value: string
): { readonly value: string } | { readonly reason: string } => {
  const where = `${objectType}.${name}`
  if (definition === undefined) return { reason: `${where} does not exist` }
  if (definition.readOnly) return { reason: `${where} is read-only` }
  switch (definition.type) {
    case "string":
    case "phone_number":
      return { value }
    case "enumeration": {
      if (definition.externalOptions) return { value: value.trim() }
      const option = enumerationValue(definition, value)
      return option === undefined
        ? { reason: `${JSON.stringify(value)} is not an option of ${where}` }
        : { value: option }
    }
    case "number":
      // plain decimal digits, as HubSpot takes them (no exponent, no surrounding space)
      return /^-?\d+(\.\d+)?$/.test(value.trim())
        ? { value: value.trim() }
        : { reason: `${JSON.stringify(value)} is not a number (${where})` }
    case "bool":
      return /^(true|false)$/i.test(value)
        ? { value: value.toLowerCase() }
        : { reason: `${JSON.stringify(value)} is not true or false (${where})` }
    default:
      return { reason: `${where} is a ${definition.type} property` }
  }
}

/**
 * Fits values to `objectType`'s definitions before a write: a property the type lacks, an enumeration value that is
 * no option (matched on value, then value or label ignoring case, punctuation and space), a number that is not numeric
 * are left out and named in `omitted`; the rest is written as HubSpot will accept it. Unset values are dropped.
 */
export const adapt = (
  objectType: string,
  definitions: Definitions,
  values: Readonly<Record<string, string | number | undefined>>
): { readonly properties: Record<string, string>; readonly omitted: ReadonlyArray<Omitted> } => {
  const properties: Record<string, string> = {}
  const omitted: Array<Omitted> = []
  for (const [name, raw] of Object.entries(values)) {
    if (raw === undefined) continue
    const result = adaptOne(objectType, definitions.get(name), name, String(raw))
    if ("value" in result) properties[name] = result.value
    else omitted.push({ property: name, reason: result.reason })
  }
  return { properties, omitted }
}

/** The definitions HubSpot answered, as the executor keeps them. */
export const toDefinitions = (
  results: ReadonlyArray<{
    readonly name: string
    readonly type: string
    readonly options?: ReadonlyArray<{ readonly label: string; readonly value: string }> | undefined
    readonly calculated?: boolean | undefined
    readonly externalOptions?: boolean | undefined
    readonly modificationMetadata?: { readonly readOnlyValue?: boolean | undefined } | undefined
  }>
): Definitions =>
  new Map(
    results.map((p) => [
      p.name,
      {
        name: p.name,
        type: p.type,
        options: (p.options ?? []).map((o) => ({ label: o.label, value: o.value })),
        readOnly: p.calculated === true || p.modificationMetadata?.readOnlyValue === true,
        externalOptions: p.externalOptions === true
      }
    ])
  )

/** An object type's definitions, and whether they were read for this call (else kept from an earlier one). */
export interface Fetched {
  readonly definitions: Definitions
  readonly readNow: boolean
}

/** Per-process definitions, read on first use of an object type and trusted for `ttl`. */
export interface DefinitionsCache<E> {
  readonly get: (objectType: string) => Effect.Effect<Fetched, E>
  /** Forgets `objectType`'s definitions (after HubSpot refused a write), so the next use reads them again. */
  readonly forget: (objectType: string) => Effect.Effect<void>
}

/**
 * Caches `read` per object type. Only answers are kept: a failed read fails its action and is tried again by the
 * next one. Concurrent first uses may each read (each is counted in its action's call cost); nothing is shared
 * between them, so one action's interruption never reaches another.
 */
export const makeDefinitionsCache = <E>(
  read: (objectType: string) => Effect.Effect<Definitions, E>,
  ttl: Duration.DurationInput = definitionsTtl
): Effect.Effect<DefinitionsCache<E>> =>
  Effect.gen(function* () {
    const ttlMs = Duration.toMillis(ttl)
    const entries = yield* Ref.make(new Map<string, { readonly until: number; readonly definitions: Definitions }>())
    // bumped by each forget: a read that began before a forget must not put back what the forget dropped
    const generation = yield* Ref.make(0)
    return {
      get: (objectType) =>
        Effect.flatMap(
          Effect.all([Clock.currentTimeMillis, Ref.get(entries), Ref.get(generation)]),
          ([now, cached, began]): Effect.Effect<Fetched, E> => {
            const entry = cached.get(objectType)
            if (entry !== undefined && entry.until > now)
              return Effect.succeed({ definitions: entry.definitions, readNow: false })
            return read(objectType).pipe(
              Effect.tap((definitions) =>
                Effect.flatMap(Ref.get(generation), (current) =>
                  current === began
                    ? Ref.update(entries, (m) => new Map(m).set(objectType, { until: now + ttlMs, definitions }))
                    : Effect.void
                )
              ),
              Effect.map((definitions) => ({ definitions, readNow: true }))
            )
          }
        ),
      forget: (objectType) =>
        Effect.zipRight(
          Ref.update(generation, (n) => n + 1),
          Ref.update(entries, (m) => {
            const next = new Map(m)
            next.delete(objectType)
            return next
          })
        )
    }
  })
