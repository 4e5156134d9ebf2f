import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId
} from "@modelcontextprotocol/sdk/types.js"

/** A transport that knows which requests it has not answered yet. */
export interface AnsweringTransport {
  readonly transport: Transport
  /**
   * Resolves true once every request received so far is settled: its answer was sent (written, or its write failed,
   * which is never retried), the client cancelled it (owed no answer), or no answer can be written any more (the
   * transport closed, or `abandon`); false if `timeoutMs` passed first.
   */
  readonly answered: (timeoutMs: number) => Promise<boolean>
  /**
   * The client can no longer read answers (stdout failed with EPIPE: it left). Nothing owed is awaited any more:
   * a write to a broken pipe neither succeeds nor fails (Node's stream waits for a 'drain' that never comes).
   */
  readonly abandon: () => void
}

/**
 * `inner` with its requests counted until their answers are written. The SDK sends a handler's answer a few ticks
 * after the handler's promise settles, and drops it if the server was closed meanwhile: a shutdown must wait for the
 * answers themselves, not only for the calls (InFlight), before it closes the server. `onRequest` is told of each
 * request as it arrives.
 */
export const answering = (
  inner: Transport,
  onRequest: (request: JSONRPCRequest) => void = () => undefined
): AnsweringTransport => {
  const open = new Set<RequestId>()
  let gone = false
  let waiters: Array<() => void> = []
  const wakeIfAnswered = () => {
    if (open.size === 0) for (const wake of waiters.splice(0)) wake()
  }
  const settle = (id: RequestId) => {
    open.delete(id)
    wakeIfAnswered()
  }
  const abandon = () => {
    gone = true
    open.clear()
    wakeIfAnswered()
  }
  const transport: Transport = {
    start: () => inner.start(),
    close: () => inner.close(),
    send: async (message: JSONRPCMessage, options) => {
      try {
        await inner.send(message, options)
      } finally {
        // a send that failed is settled too: it is not retried, so waiting for it would only hold the shutdown for
        // SHUTDOWN_TIMEOUT_MS (the SDK reports the failure through onerror)
        if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
          if (message.id !== undefined) settle(message.id)
        }
      }
    }
  }
  inner.onclose = () => {
    abandon()
    transport.onclose?.()
  }
  inner.onerror = (error) => transport.onerror?.(error)
  inner.onmessage = (message, extra) => {
    if (isJSONRPCRequest(message)) {
      if (!gone) open.add(message.id)
      onRequest(message)
    } else if ("method" in message && message.method === "notifications/cancelled") {
      // a cancelled request gets no answer (MCP): nothing to wait for
      const id = (message.params as { readonly requestId?: RequestId } | undefined)?.requestId
      if (id !== undefined) settle(id)
    }
    transport.onmessage?.(message, extra)
  }
  return {
    transport,
    abandon,
    answered: (timeoutMs) =>
      open.size === 0
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => {
              waiters = waiters.filter((wake) => wake !== done)
              resolve(false)
            }, timeoutMs)
            const done = () => {
              clearTimeout(timer)
              resolve(true)
            }
            waiters.push(done)
          })
  }
}
