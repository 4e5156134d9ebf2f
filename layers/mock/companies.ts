import type { Enrichment } from "../../src/domain/enrichment.js"

/** Fictional companies the mock enricher knows, spread across fit tiers so demos show every outcome. */
export const companies: ReadonlyArray<Enrichment> = [
  {
    domain: "acme.com",
    name: "Acme Corporation",
    industry: "Manufacturing",
    employees: 5200,
    annualRevenue: 1_200_000_000,
    country: "US",
    city: "Phoenix",
    foundedYear: 1949,
    technologies: ["Salesforce", "SAP", "Marketo"],
    tags: ["enterprise", "b2b"]
  },
  {
    domain: "globex.com",
    name: "Globex Corporation",
    industry: "Software",
    employees: 1800,
    annualRevenue: 420_000_000,
    country: "US",
    city: "Cypress Creek",
    foundedYear: 1989,
    technologies: ["HubSpot", "AWS", "Snowflake"],
    tags: ["enterprise", "saas"]
  },
  {
    domain: "initech.com",
    name: "Initech",
    industry: "Information Technology",
    employees: 850,
    annualRevenue: 95_000_000,
    country: "US",
    city: "Austin",
    foundedYear: 1996,
    technologies: ["Salesforce", "Jira"]
  },
  {
    domain: "umbrella-corp.com",
    name: "Umbrella Corporation",
    industry: "Biotechnology",
    employees: 12_000,
    annualRevenue: 3_400_000_000,
    country: "GB",
    city: "London",
    foundedYear: 1968,
    tags: ["enterprise", "regulated"]
  },
  {
    domain: "hooli.com",
    name: "Hooli",
    industry: "Internet",
    employees: 25_000,
    annualRevenue: 9_800_000_000,
    country: "US",
    city: "Palo Alto",
    foundedYear: 1998,
    technologies: ["GCP", "Kubernetes"]
  },
  {
    domain: "piedpiper.com",
    name: "Pied Piper",
    industry: "Software",
    employees: 45,
    annualRevenue: 4_500_000,
    country: "US",
    city: "Palo Alto",
    foundedYear: 2014,
    technologies: ["AWS"],
    tags: ["startup"]
  },
  {
    domain: "contoso.com",
    name: "Contoso Financial",
    industry: "Financial Services",
    employees: 3100,
    annualRevenue: 780_000_000,
    country: "DE",
    city: "Frankfurt",
    foundedYear: 1979,
    technologies: ["Salesforce", "Azure"]
  },
  {
    domain: "northwind.com",
    name: "Northwind Traders",
    industry: "Retail",
    employees: 320,
    annualRevenue: 61_000_000,
    country: "CA",
    city: "Toronto",
    foundedYear: 1992
  },
  {
    domain: "cloudlytics.io",
    name: "Cloudlytics",
    industry: "SaaS",
    employees: 210,
    annualRevenue: 28_000_000,
    country: "US",
    city: "Boston",
    foundedYear: 2017,
    technologies: ["HubSpot", "Segment", "AWS"],
    tags: ["saas", "analytics"]
  },
  {
    domain: "ledgerly.com",
    name: "Ledgerly",
    industry: "Fintech",
    employees: 95,
    annualRevenue: 12_500_000,
    country: "GB",
    city: "Manchester",
    foundedYear: 2019,
    technologies: ["Stripe", "Intercom"]
  },
  {
    domain: "stackforge.dev",
    name: "StackForge",
    industry: "Developer Tools",
    employees: 60,
    country: "NL",
    city: "Amsterdam",
    foundedYear: 2020,
    technologies: ["GitHub", "Vercel"]
  },
  {
    domain: "crumbandco.co.uk",
    name: "Crumb & Co Bakery",
    industry: "Food & Beverage",
    employees: 8,
    annualRevenue: 650_000,
    country: "GB",
    city: "Bristol",
    foundedYear: 2011
  }
]
