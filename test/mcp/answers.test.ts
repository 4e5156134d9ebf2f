// The stdio "answered" tracker (src/mcp/answers.ts): a shutdown waits for answers still owed, and for no others: not
// for an answer whose write failed, nor once the client can no longer read any (EPIPE, the transport closed).
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { describe, expect, it } from "vitest"
import { answering } from "../../src/mcp/answers.js"

/** A transport whose sends do what `send` says; `receive` delivers a client's message. */
const fakeTransport = (send: (message: JSONRPCMessage) => Promise<void>) => {
  const sent: Array<JSONRPCMessage> = []
  const inner: Transport = {
    start: async () => undefined,
    close: async () => inner.onclose?.(),
    send: (message) => {
      sent.push(message)
      return send(message)
    }
  }
  return { inner, sent, receive: (message: JSONRPCMessage) => inner.onmessage?.(message) }
}

const request = (id: number): JSONRPCMessage => ({ jsonrpc: "2.0", id, method: "tools/call", params: {} })
const result = (id: number): JSONRPCMessage => ({ jsonrpc: "2.0", id, result: {} })

/** What `answered` resolved to within `withinMs`, or "still waiting". */
const settledWithin = (answered: Promise<boolean>, withinMs: number) =>
  Promise.race([
    answered,
    new Promise<"still waiting">((resolve) => setTimeout(() => resolve("still waiting"), withinMs))
  ])

/** The tracker over `inner`, connected as the SDK connects a transport (its callbacks set). */
const connected = (inner: Transport) => {
  const tracker = answering(inner)
  const errors: Array<Error> = []
  let closed = 0
  tracker.transport.onmessage = () => undefined
  tracker.transport.onerror = (error) => errors.push(error)
  tracker.transport.onclose = () => closed++
  return { ...tracker, errors, closed: () => closed }
}

describe("answering: what a shutdown waits for", () => {
  it("nothing received: answered at once; an answer written settles its request", async () => {
    const fake = fakeTransport(async () => undefined)
    const tracker = connected(fake.inner)
    expect(await tracker.answered(60_000)).toBe(true)
    fake.receive(request(1))
    const waiting = tracker.answered(60_000)
    expect(await settledWithin(tracker.answered(60_000), 100)).toBe("still waiting")
    await tracker.transport.send(result(1))
    expect(await settledWithin(waiting, 1_000)).toBe(true)
  })

  it("an answer never sent: false after the timeout", async () => {
    const fake = fakeTransport(async () => undefined)
    const tracker = connected(fake.inner)
    fake.receive(request(1))
    const started = Date.now()
    expect(await tracker.answered(200)).toBe(false)
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
  })

  it("a send that fails settles its request: the shutdown does not wait out its timeout", async () => {
    const fake = fakeTransport(async () => {
      throw Object.assign(new Error("write EPIPE"), { code: "EPIPE" })
    })
    const tracker = connected(fake.inner)
    fake.receive(request(1))
    fake.receive(request(2))
    const waiting = tracker.answered(60_000)
    // the failure still reaches the sender (the SDK reports it through onerror)
    await expect(tracker.transport.send(result(1))).rejects.toThrow("EPIPE")
    await expect(tracker.transport.send(result(2))).rejects.toThrow("EPIPE")
    expect(await settledWithin(waiting, 2_000)).toBe(true)
  })

  it("a send that never settles (a broken pipe waits for 'drain'): abandon wakes the shutdown", async () => {
    const fake = fakeTransport(() => new Promise<void>(() => undefined))
    const tracker = connected(fake.inner)
    fake.receive(request(1))
    void tracker.transport.send(result(1))
    const waiting = tracker.answered(60_000)
    expect(await settledWithin(waiting, 100)).toBe("still waiting")
    tracker.abandon()
    expect(await settledWithin(waiting, 1_000)).toBe(true)
    // a request after the client left is owed nothing either
    fake.receive(request(2))
    expect(await settledWithin(tracker.answered(60_000), 1_000)).toBe(true)
  })

  it("the transport closing wakes the waiters, and the SDK still hears of the close", async () => {
    const fake = fakeTransport(async () => undefined)
    const tracker = connected(fake.inner)
    fake.receive(request(1))
    const waiting = tracker.answered(60_000)
    await tracker.transport.close()
    expect(await settledWithin(waiting, 1_000)).toBe(true)
    expect(tracker.closed()).toBe(1)
  })

  it("a cancelled request is owed no answer", async () => {
    const fake = fakeTransport(async () => undefined)
    const tracker = connected(fake.inner)
    fake.receive(request(1))
    const waiting = tracker.answered(60_000)
    fake.receive({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } })
    expect(await settledWithin(waiting, 1_000)).toBe(true)
  })
})
