// The part of autocannon's API the benchmarks use (the package ships no types).
declare module "autocannon" {
  interface Histogram {
    readonly average: number
    readonly mean: number
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
  }
  interface RequestSpec {
    readonly method?: string
    readonly path?: string
    readonly headers?: Record<string, string>
    readonly body?: string
    readonly setupRequest?: (request: RequestSpec, context: object) => RequestSpec
    readonly onResponse?: (status: number, body: string, context: object) => void
  }
  interface Options {
    readonly url: string
    readonly connections?: number
    readonly duration?: number
    readonly amount?: number
    readonly pipelining?: number
    readonly timeout?: number
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly requests?: ReadonlyArray<RequestSpec>
  }
  interface Result {
    readonly requests: Histogram & { readonly total: number; readonly sent: number }
    readonly latency: Histogram
    readonly duration: number
    readonly errors: number
    readonly timeouts: number
    readonly non2xx: number
    readonly "2xx": number
    readonly statusCodeStats: Record<string, { readonly count: number }>
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
