import type { HttpRequest, HttpRequestOptions, HttpResponse } from "jsforce/lib/types/index.js"
import { Transport } from "jsforce/lib/transport.js"
import type { StreamPromise } from "jsforce/lib/util/promise.js"

/**
 * jsforce's HTTP options with its own retries switched off: it would retry GET/PUT/DELETE up to five times
 * (ignoring Retry-After) on 420/429/5xx, stacked under the queue's retries. An empty method list also
 * disables the separate 420 retry, which ignores maxRetries. Redirects are not followed: jsforce would send a
 * write again as a GET, with its Authorization header, to wherever the Location points, and take that GET's 200
 * for the write's success; a redirect is an answer the call fails on instead.
 */
export const boundedOptions = (timeoutMs: number): HttpRequestOptions => ({
  retry: { maxRetries: 0, methods: [], statusCodes: [], errorCodes: [] },
  timeout: timeoutMs,
  followRedirect: false
})

/**
 * A jsforce transport for one call: forces the bounded options on every request it sends (including
 * OAuth2 token requests, which take no options of their own) and keeps the last raw response, since
 * jsforce's errors carry neither the status nor the headers (Retry-After, Sforce-Limit-Info).
 */
export class BoundedTransport extends Transport {
  last: HttpResponse | undefined = undefined
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super()
    this.timeoutMs = timeoutMs
  }

  override httpRequest(req: HttpRequest, options: HttpRequestOptions = {}): StreamPromise<HttpResponse> {
    const sent = super.httpRequest(req, { ...options, ...boundedOptions(this.timeoutMs) })
    sent.then(
      (response) => {
        this.last = response
      },
      () => undefined
    )
    return sent
  }
}
