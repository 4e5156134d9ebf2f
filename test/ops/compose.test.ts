import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { parse } from "yaml"
import * as Metrics from "../../layers/observability/Metrics.js"
import { configEnvVars } from "./envVars.js"
import { runtimeEnv, warmUpEnv } from "../../scripts/ops/runtimeEnv.mjs"

const root = resolve(import.meta.dirname, "../..")
const read = (path: string) => readFileSync(join(root, path), "utf8")
// compose files use YAML 1.1 merge keys (<<: *anchor)
const yaml = <T>(path: string) => parse(read(path), { merge: true }) as T

// the parts of each file the tests read
interface Service {
  readonly image?: string
  readonly build?: unknown
  readonly pull_policy?: string
  readonly depends_on?: ReadonlyArray<string> | Record<string, { readonly condition?: string }>
  readonly command?: ReadonlyArray<string>
  readonly environment?: Record<string, unknown>
  readonly volumes?: ReadonlyArray<string>
}
interface ScrapeJob {
  readonly job_name: string
  readonly metrics_path?: string
  readonly dns_sd_configs?: ReadonlyArray<{ readonly names: ReadonlyArray<string>; readonly port: number }>
  readonly static_configs?: ReadonlyArray<{ readonly targets: ReadonlyArray<string> }>
}
interface Rule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
}
interface Target {
  readonly expr: string
  readonly datasource?: { readonly uid: string }
}
interface Panel {
  readonly title: string
  readonly datasource?: { readonly uid: string }
  readonly targets?: ReadonlyArray<Target>
}

const compose = yaml<{ services: Record<string, Service>; "x-unset-env": Record<string, string> }>("docker-compose.yml")
const prometheus = yaml<{ scrape_configs: ReadonlyArray<ScrapeJob>; rule_files: ReadonlyArray<string> }>(
  "ops/prometheus.yml"
)
const alerts = yaml<{ groups: ReadonlyArray<{ rules: ReadonlyArray<Rule> }> }>("ops/alerts.yml")
const dashboard = JSON.parse(read("ops/grafana/dashboards/revenueflow.json")) as { panels: ReadonlyArray<Panel> }
const datasources = yaml<{ datasources: ReadonlyArray<{ uid: string }> }>(
  "ops/grafana/provisioning/datasources/datasources.yml"
)
const service = (name: string): Service => compose.services[name] ?? {}
const volumesOf = (name: string) => (service(name).volumes ?? []).map((v) => v.split(":"))

/** Every metric name the programs expose: rendered from the real registry, histogram series included. */
const exposedMetrics = Effect.gen(function* () {
  const metrics = yield* Metrics.make()
  const { body } = yield* metrics.render
  const names = new Set<string>()
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!)
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`)
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`)
  }
  return names
})

/** Metric names a PromQL expression refers to (ours and the default process / Node.js ones). */
const metricsIn = (expr: string) => [...expr.matchAll(/\b(?:revenueflow|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0])

const alertRules = (): ReadonlyArray<Rule> => alerts.groups.flatMap((group) => group.rules)

const dashboardTargets = (): ReadonlyArray<{ panel: string; expr: string; datasource: string | undefined }> =>
  dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panel: panel.title,
      expr: target.expr,
      datasource: (target.datasource ?? panel.datasource)?.uid
    }))
  )

const envOf = (name: string): Record<string, unknown> => service(name).environment ?? {}

describe("docker-compose.yml", () => {
  it("has the whole stack, both programs from one image", () => {
    const services = Object.keys(compose.services)
    for (const name of [
      "redis",
      "postgres",
      "ingest",
      "consumer",
      "jaeger",
      "prometheus",
      "grafana",
      "loki",
      "promtail"
    ]) {
      expect(services).toContain(name)
    }
    expect(service("ingest").image).toBe(service("consumer").image)
    // built once: by the ingest service; the consumer runs that image and never looks for it in a registry
    expect(service("ingest").build).toBe(".")
    expect(service("consumer").build).toBeUndefined()
    expect(service("consumer").pull_policy).toBe("never")
    expect(service("ingest").command).toEqual(["ingest"])
    expect(service("consumer").command).toEqual(["consumer"])
    expect(envOf("ingest").OTEL_EXPORTER_OTLP_ENDPOINT).toMatch(/jaeger:4318/)
    expect(envOf("ingest").OTEL_SERVICE_NAME).toBe("revenueflow-ingest")
    expect(envOf("consumer").OTEL_SERVICE_NAME).toBe("revenueflow-consumer")
    expect(service("redis").command).toContain("noeviction")
  })

  it("builds an image before any service that runs it without building it: `up <that service>` on a clean machine", () => {
    // Compose builds the images of the services it starts, dependencies included, before creating any container; a
    // service with only `image` (and pull_policy: never) finds it only if the service that builds it is one of them
    const builders = new Map(
      Object.entries(compose.services)
        .filter(([, s]) => s.build !== undefined && s.image !== undefined)
        .map(([name, s]) => [s.image!, name])
    )
    const dependsOn = (name: string) => {
      const deps = service(name).depends_on ?? []
      return Array.isArray(deps) ? deps : Object.keys(deps)
    }
    const runners = Object.entries(compose.services).filter(([, s]) => s.build === undefined && builders.has(s.image!))
    expect(runners.map(([name]) => name)).toEqual(["consumer"])
    for (const [name, s] of runners) {
      expect(dependsOn(name), name).toContain(builders.get(s.image!))
      expect(s.pull_policy, name).toBe("never")
    }
  })

  it("mounts only files that exist", () => {
    for (const name of Object.keys(compose.services)) {
      for (const [source] of volumesOf(name)) {
        if (source?.startsWith("./")) expect(existsSync(join(root, source)), source).toBe(true)
      }
    }
  })
})

describe("Prometheus", () => {
  it("scrapes the ingest on 3000 and the consumer on 9464 at /metrics, with the alert rules loaded", () => {
    const jobs = new Map(prometheus.scrape_configs.map((job) => [job.job_name, job]))
    const portOf = (job: ScrapeJob | undefined) =>
      job?.dns_sd_configs?.[0]?.port ?? Number(job?.static_configs?.[0]?.targets[0]?.split(":")[1])
    const namesOf = (job: ScrapeJob | undefined) => job?.dns_sd_configs?.[0]?.names ?? job?.static_configs?.[0]?.targets
    expect(portOf(jobs.get("revenueflow-ingest"))).toBe(3000)
    expect(String(namesOf(jobs.get("revenueflow-ingest")))).toContain("ingest")
    expect(portOf(jobs.get("revenueflow-consumer"))).toBe(9464)
    expect(String(namesOf(jobs.get("revenueflow-consumer")))).toContain("consumer")
    for (const job of ["revenueflow-ingest", "revenueflow-consumer"]) {
      expect(jobs.get(job)?.metrics_path).toBe("/metrics")
    }
    const mounted = volumesOf("prometheus").map(([, target]) => target)
    for (const file of prometheus.rule_files) expect(mounted).toContain(file)
  })

  it.effect("alerts only on metrics the programs expose", () =>
    Effect.gen(function* () {
      const exposed = yield* exposedMetrics
      for (const rule of alertRules()) {
        const used = metricsIn(rule.expr)
        // the two on Prometheus' own `up` (a target that answers no scrape, or none to scrape at all) use none of ours
        if (rule.alert !== "RevenueFlowTargetDown" && rule.alert !== "RevenueFlowTargetMissing") {
          expect(used.length, rule.alert).toBeGreaterThan(0)
        }
        for (const name of used) expect(exposed, `${rule.alert} uses ${name}`).toContain(name)
      }
    })
  )

  it("alerts when a program cannot reach its store or queue, and when leads are answered 503", () => {
    const byName = new Map(alertRules().map((rule) => [rule.alert, rule]))
    expect(byName.get("RevenueFlowDependencyDown")!.expr).toMatch(/revenueflow_dependency_up\)?\s*==\s*0/)
    expect(byName.get("RevenueFlowLeadsRefusedUnavailable")!.expr).toContain(
      'revenueflow_leads_ingested_total{outcome="unavailable"}'
    )
    expect(byName.get("RevenueFlowTargetMissing")!.expr).toContain('absent(up{job="revenueflow-consumer"})')
  })

  it("alerts on an open breaker, the CRM error rate and the oldest waiting job", () => {
    const byName = new Map(alertRules().map((rule) => [rule.alert, rule]))
    const breaker = byName.get("RevenueFlowCircuitBreakerOpen")!
    expect(breaker.expr).toMatch(/revenueflow_circuit_breaker_state\)?\s*==\s*2/)
    expect(breaker.for).toBe("1m")
    const errors = byName.get("RevenueFlowCrmErrorRateHigh")!
    expect(errors.expr).toContain('revenueflow_crm_actions_total{status!="success"}[5m]')
    expect(errors.expr).toMatch(/>\s*0\.05/)
    expect(byName.get("RevenueFlowQueueBacklogOld")!.expr).toContain("revenueflow_queue_oldest_waiting_job_age_seconds")
  })
})

describe("Grafana", () => {
  it("provisions the data sources the dashboard uses, and the dashboard folder compose mounts", () => {
    const uids = new Set(datasources.datasources.map((ds) => ds.uid))
    for (const target of dashboardTargets()) expect(uids, target.panel).toContain(target.datasource)
    const { providers } = yaml<{ providers: ReadonlyArray<{ options: { path: string } }> }>(
      "ops/grafana/provisioning/dashboards/dashboards.yml"
    )
    const mounts = volumesOf("grafana").map((parts) => parts.slice(0, 2))
    expect(mounts).toContainEqual(["./ops/grafana/dashboards", providers[0]?.options.path])
    expect(mounts).toContainEqual(["./ops/grafana/provisioning", "/etc/grafana/provisioning"])
  })

  it.effect("charts only metrics the programs expose, and every revenueflow_* metric at least once", () =>
    Effect.gen(function* () {
      const exposed = yield* exposedMetrics
      const used = new Set<string>()
      for (const target of dashboardTargets().filter((t) => t.datasource === "prometheus")) {
        for (const name of metricsIn(target.expr)) {
          expect(exposed, `panel "${target.panel}" uses ${name}`).toContain(name)
          used.add(name.replace(/_(bucket|sum|count)$/, ""))
        }
      }
      const ours = [...exposed].filter((n) => n.startsWith("revenueflow_") && !/_(bucket|sum|count)$/.test(n))
      expect(ours.filter((name) => !used.has(name))).toEqual([])
    })
  )

  it("parses the Loki and Promtail configs", () => {
    expect(yaml<{ server: { http_listen_port: number } }>("ops/loki/loki.yml").server.http_listen_port).toBe(3100)
    const promtail = yaml<{ clients: ReadonlyArray<{ url: string }> }>("ops/loki/promtail.yml")
    expect(promtail.clients[0]?.url).toBe("http://loki:3100/loki/api/v1/push")
  })
})

describe("environment variables", () => {
  const vars = configEnvVars(root, ["services", "layers", "src"])

  it("finds the variables the code reads", () => {
    for (const name of [
      "PORT",
      "DATABASE_URL",
      "REDIS_URL",
      "CRM_PROVIDER",
      "LOG_LEVEL",
      "OTEL_EXPORTER_OTLP_ENDPOINT"
    ]) {
      expect([...vars.keys()]).toContain(name)
    }
  })

  it("every variable is set on a compose service or listed in x-unset-env with a reason", () => {
    const set = new Set(Object.keys(compose.services).flatMap((name) => Object.keys(envOf(name))))
    const unset = compose["x-unset-env"]
    const missing = [...vars.keys()].filter((name) => !set.has(name) && !(name in unset))
    expect(missing, `not in docker-compose.yml: ${missing.join(", ")}`).toEqual([])
    const stale = Object.keys(unset).filter((name) => !vars.has(name))
    expect(stale, `x-unset-env lists variables nothing reads: ${stale.join(", ")}`).toEqual([])
    const both = Object.keys(unset).filter((name) => set.has(name))
    expect(both, `both set and listed as unset: ${both.join(", ")}`).toEqual([])
  })

  it("every variable is documented in README.md", () => {
    const readme = existsSync(join(root, "README.md")) ? read("README.md") : ""
    const missing = [...vars].filter(([name]) => !new RegExp(`\\b${name}\\b`).test(readme))
    const report = missing.map(([name, files]) => `  ${name.padEnd(34)} read in ${files.join(", ")}`).join("\n")
    expect(missing.length, `README.md does not mention ${missing.length} variable(s):\n${report}\n`).toBe(0)
  })
})

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile")
  const ignored = read(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))

  it("copies from the build context only paths that exist and are not docker-ignored", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/)
    )
    expect(sources.length).toBeGreaterThan(0)
    for (const source of sources) {
      expect(existsSync(join(root, source)), source).toBe(true)
      expect(
        ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)),
        source
      ).toBe(false)
    }
  })

  it("gives the build stage every script the bundle build imports (each relative import, followed)", () => {
    const stage = dockerfile.slice(dockerfile.indexOf("AS build"), dockerfile.indexOf("AS runtime"))
    const copied = [...stage.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/))
    const inStage = (file: string) =>
      copied.some((source) => file === source || file.startsWith(`${source.replace(/\/$/, "")}/`))
    const seen = new Set<string>()
    const follow = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const [, target] of read(file).matchAll(/^\s*(?:import|export)\b[^"'`]*?["'](\.{1,2}\/[^"']+)["']/gm)) {
        follow(relative(root, join(root, dirname(file), target!)))
      }
    }
    follow("scripts/build/build.mjs")
    expect(seen.size).toBeGreaterThan(5)
    const missing = [...seen].filter((file) => !inStage(file))
    expect(missing, `the build stage lacks ${missing.join(", ")}`).toEqual([])
  })

  it("sets the runtime environment the benchmarks run the programs with (scripts/ops/runtimeEnv.mjs)", () => {
    const runtime = dockerfile.slice(dockerfile.indexOf("AS runtime"))
    const block = /^ENV ((?:.*\\\n)*.*)$/m.exec(runtime)?.[1] ?? ""
    const declared = Object.fromEntries(
      block.split(/\s*\\\n\s*|\s+/).flatMap((pair) => (pair.includes("=") ? [pair.split("=")] : []))
    )
    expect(Object.keys(runtimeEnv).length).toBeGreaterThan(0)
    for (const [key, value] of Object.entries(runtimeEnv)) expect(declared[key], key).toBe(value)
  })

  it("warms the compile cache with the start the build records and the cold-start benchmark warms with", () => {
    const warmUp = Object.entries(warmUpEnv)
      .map(([key, value]) => `${key}=${value}`)
      .join(" ")
    expect(dockerfile).toContain(`${warmUp} \\\n        timeout 60 node "dist/$program/index.mjs"`)
  })

  it("runs as a non-root user under tini, with a health check, choosing the program by argument", () => {
    expect(dockerfile).toMatch(/^USER node$/m)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "revenueflow"\]$/m)
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m)
    for (const program of ["ingest", "consumer", "cli"]) expect(dockerfile).toContain(`/src/dist/${program}`)
    // the entrypoint is valid sh and knows each program
    execFileSync("sh", ["-n", join(root, "scripts/ops/docker-entrypoint.sh")])
    const help = execFileSync("sh", [join(root, "scripts/ops/docker-entrypoint.sh"), "help"]).toString()
    expect(help).toContain("ingest | consumer")
  })
})
