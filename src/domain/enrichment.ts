import * as Schema from "effect/Schema"

/** Company data for a domain, as an enrichment provider returns it. Field paths in evidence point into this. */
export const Enrichment = Schema.Struct({
  domain: Schema.String,
  name: Schema.String,
  industry: Schema.optional(Schema.String),
  employees: Schema.optional(Schema.Number),
  annualRevenue: Schema.optional(Schema.Number),
  country: Schema.optional(Schema.String),
  city: Schema.optional(Schema.String),
  foundedYear: Schema.optional(Schema.Number),
  technologies: Schema.optional(Schema.Array(Schema.String)),
  tags: Schema.optional(Schema.Array(Schema.String))
}).annotations({ identifier: "Enrichment" })
export type Enrichment = typeof Enrichment.Type

/** A domain as one company: trimmed, lower-cased, without a leading "www." ("WWW.Acme.com" and "acme.com" are one). */
export const companyDomain = (domain: string): string =>
  domain
    .trim()
    .toLowerCase()
    .replace(/^www\./, "")

/** Mail domains that identify a person, not a company: never enriched, never treated as an account. */
export const freeMailDomains: ReadonlySet<string> = new Set([
  "gmail.com",
  "googlemail.com",
  "outlook.com",
  "hotmail.com",
  "live.com",
  "msn.com",
  "yahoo.com",
  "ymail.com",
  "icloud.com",
  "me.com",
  "mac.com",
  "aol.com",
  "proton.me",
  "protonmail.com",
  "gmx.com",
  "gmx.de",
  "web.de",
  "mail.com",
  "zoho.com",
  "yandex.com",
  "qq.com",
  "163.com"
])

export const isFreeMailDomain = (domain: string): boolean => freeMailDomains.has(domain.toLowerCase())
