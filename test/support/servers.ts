import { testDatabaseUrl, testRedisUrl } from "../../layers/testing/servers.js"

/** Host and port of a postgres:// or redis:// URL (the scheme's default port when it names none). */
const hostPort = (url: string, defaultPort: number) => {
  const parsed = new URL(url)
  // an IPv6 literal comes in brackets, which net.connect does not take
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1"
  return { host, port: parsed.port === "" ? defaultPort : Number(parsed.port) }
}

/** Where the test Postgres listens (TEST_DATABASE_URL, else the local one): for proxies put in front of it. */
export const testDatabaseAddress = () => hostPort(testDatabaseUrl(), 5432)

/** Where the test Redis listens (TEST_REDIS_URL, else the local one): for proxies put in front of it. */
export const testRedisAddress = () => hostPort(testRedisUrl(), 6379)

/**
 * `url` (user, password, database, options and all) pointed at a proxy on 127.0.0.1:`port` in front of its server,
 * e.g. `throughProxy(testDatabaseUrl(), proxy.port)`.
 */
export const throughProxy = (url: string, port: number): string => {
  const parsed = new URL(url)
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return parsed.href
}
