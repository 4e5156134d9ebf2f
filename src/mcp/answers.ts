import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId
} from "@modelcontextprotocol/sdk/types.js"

/** A transport that knows which requests it has not answered yet. */
export interface AnsweringTransport {
  readonly transport: Transport
  /**
   * Resolves true once every request received so far has had its answer written (or was cancelled by the client,
   * which is owed none), false if `timeoutMs` passed first.
   */
  readonly answered: (timeoutMs: number) => Promise<boolean>
}

/**
 * `inner` with its requests counted until their answers are written. The SDK sends a handler's answer a few ticks
 * after the handler's promise settles, and drops it if the server was closed meanwhile: a shutdown must wait for the
 * answers themselves, not only for the calls (InFlight), before it closes the server.
 */
export const answering = (inner: Transport): AnsweringTransport => {
  const open = new Set<RequestId>()
  let waiters: Array<() => void> = []
  const settle = (id: RequestId) => {
    open.delete(id)
    if (open.size === 0) for (const wake of waiters.splice(0)) wake()
  }
  const transport: Transport = {
    start: () => inner.start(),
    close: () => inner.close(),
    send: async (message: JSONRPCMessage, options) => {
      await inner.send(message, options)
      if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
        if (message.id !== undefined) settle(message.id)
      }
    }
  }
  inner.onclose = () => transport.onclose?.()
  inner.onerror = (error) => transport.onerror?.(error)
  inner.onmessage = (message, extra) => {
    if (isJSONRPCRequest(message)) open.add(message.id)
    else if ("method" in message && message.method === "notifications/cancelled") {
      // a cancelled request gets no answer (MCP): nothing to wait for
      const id = (message.params as { readonly requestId?: RequestId } | undefined)?.requestId
      if (id !== undefined) settle(id)
    }
    transport.onmessage?.(message, extra)
  }
  return {
    transport,
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
