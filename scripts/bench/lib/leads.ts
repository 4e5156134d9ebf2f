/** Domains the mock enricher knows (layers/mock/companies.ts), so the consumer does its full enrichment work. */
const DOMAINS = ["acme.com", "globex.com", "initech.com", "hooli.com", "contoso.com", "northwind.com", "ledgerly.com"]

/** A realistic lead body; `run` + `n` make the email (and so the lead key) unique. */
export const leadBody = (run: string, n: number) => {
  const domain = DOMAINS[n % DOMAINS.length]
  return {
    email: `bench.${run}.${n}@${domain}`,
    campaignId: `bench-${run}`,
    firstName: "Bench",
    lastName: `Lead${n}`,
    company: domain?.split(".")[0],
    title: n % 3 === 0 ? "VP Engineering" : "Software Engineer",
    country: "US",
    utmSource: "benchmark",
    activity: { pageViews: 12, pricingPageVisits: n % 4, demoRequested: n % 5 === 0 }
  }
}

/** A generator of unique lead bodies as JSON text. */
export const uniqueLeads = (run: string) => {
  let n = 0
  return () => JSON.stringify(leadBody(run, n++))
}
