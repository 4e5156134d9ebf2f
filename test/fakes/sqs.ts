import { createHash, randomUUID } from "node:crypto"
import type * as Http from "node:http"
import * as Effect from "effect/Effect"
import { serveFake, sigV4Of } from "./bedrock.js"

/** SQS's limits, as documented (Amazon SQS quotas). */
const MAX_BATCH_ENTRIES = 10
const MAX_MESSAGE_BYTES = 262_144
const MAX_VISIBILITY_S = 43_200
const ACCOUNT = "123456789012"
const REGION = "eu-west-1"

interface Message {
  readonly id: string
  readonly body: string
  readonly md5: string
  readonly sentAt: number
  /** A FIFO queue's MessageGroupId (undefined on a standard queue). */
  readonly groupId: string | undefined
  visibleAt: number
  receiveCount: number
  firstReceiveAt: number | undefined
  /** The receipt handle of the latest receive; only it may delete the message or change the visibility of it in flight. */
  receipt: string | undefined
  deadLetterSourceArn: string | undefined
}

interface Queue {
  readonly name: string
  readonly url: string
  readonly arn: string
  readonly fifo: boolean
  visibilityTimeoutS: number
  delaySeconds: number
  redrive: { readonly deadLetterTargetArn: string; readonly maxReceiveCount: number } | undefined
  messages: Array<Message>
  /** Receipt handles ever issued, to the message id they were for. */
  readonly receipts: Map<string, string>
  /** FIFO deduplication ids seen in the last 5 minutes. */
  readonly dedup: Map<string, { readonly at: number; readonly messageId: string; readonly md5: string }>
}

class SqsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly queryCode: string,
    message: string
  ) {
    super(message)
  }
}

const invalid = (message: string) => new SqsError(400, "InvalidParameterValue", "InvalidParameterValue;Sender", message)
const noQueue = () =>
  new SqsError(
    400,
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue;Sender",
    "The specified queue does not exist."
  )

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex")

/**
 * Amazon SQS over its JSON protocol (POST / with X-Amz-Target: AmazonSQS.<Operation>, content type
 * application/x-amz-json-1.0, errors as `{"__type": "com.amazonaws.sqs#…", "message"}` with x-amzn-query-error),
 * strict where the service is: SigV4 for "sqs", MD5OfMessageBody / MD5OfBody (the SDK checks them), 10 entries and
 * 256 KiB per batch, distinct batch ids, DelaySeconds (0 to 900), visibility timeouts (at most 12 h; only the latest
 * receipt of an in-flight message may change it: an unknown handle or one the message was received again since is
 * ReceiptHandleIsInvalid, a message deleted since is InvalidParameterValue "Message does not exist...", one visible
 * again MessageNotInflight, as SQS answers), receive counts, and redrive to a dead-letter queue once
 * a message was received maxReceiveCount times. FIFO queues (.fifo) as SQS keeps them: a MessageGroupId required, a
 * send whose MessageDeduplicationId was sent in the last 5 minutes accepted and dropped, no per-message DelaySeconds,
 * and a group's messages delivered in order, one in flight at a time. The clock can be moved forward (`advance`) so tests do not wait out visibility timeouts, and
 * an operation can be made to fail or to hang (`fault`).
 */
export const makeFakeSqs = Effect.gen(function* () {
  const queues = new Map<string, Queue>()
  /** Operations answered with a 500 InternalError (which the SDK retries), or never answered, until cleared. */
  const faults = new Map<string, "error" | "hang">()
  let offset = 0
  const now = () => Date.now() + offset
  let base = ""

  const byUrl = (url: unknown): Queue => {
    if (typeof url !== "string") {
      throw new SqsError(
        400,
        "MissingParameter",
        "MissingParameter;Sender",
        "The request must contain the parameter QueueUrl."
      )
    }
    const name = url.split("/").pop() ?? ""
    const queue = queues.get(name)
    if (queue === undefined) throw noQueue()
    return queue
  }
  const byArn = (arn: string) => [...queues.values()].find((q) => q.arn === arn)

  const createQueue = (name: string, attributes: Record<string, string> = {}): Queue => {
    if (!/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(name)) {
      throw invalid("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    }
    const existing = queues.get(name)
    if (existing !== undefined) return existing
    const queue: Queue = {
      name,
      url: `${base}/${ACCOUNT}/${name}`,
      arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
      fifo: name.endsWith(".fifo"),
      visibilityTimeoutS: 30,
      delaySeconds: 0,
      redrive: undefined,
      messages: [],
      receipts: new Map(),
      dedup: new Map()
    }
    setAttributes(queue, attributes)
    queues.set(name, queue)
    return queue
  }

  const setAttributes = (queue: Queue, attributes: Record<string, string>) => {
    for (const [key, value] of Object.entries(attributes)) {
      switch (key) {
        case "VisibilityTimeout": {
          const n = Number(value)
          if (!Number.isInteger(n) || n < 0 || n > MAX_VISIBILITY_S)
            throw invalid(`Invalid value for the parameter ${key}.`)
          queue.visibilityTimeoutS = n
          break
        }
        case "DelaySeconds":
          queue.delaySeconds = Number(value)
          break
        case "RedrivePolicy": {
          const policy = JSON.parse(value) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string }
          const max = Number(policy.maxReceiveCount)
          if (policy.deadLetterTargetArn === undefined || !Number.isInteger(max) || max < 1 || max > 1000) {
            throw invalid("Value for parameter RedrivePolicy is invalid.")
          }
          if (byArn(policy.deadLetterTargetArn) === undefined) {
            throw invalid("Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
          }
          queue.redrive = { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: max }
          break
        }
        case "FifoQueue":
        case "ContentBasedDeduplication":
        case "MessageRetentionPeriod":
        case "ReceiveMessageWaitTimeSeconds":
          break
        default:
          throw new SqsError(400, "InvalidAttributeName", "InvalidAttributeName;Sender", `Unknown Attribute ${key}.`)
      }
    }
  }

  const enqueue = (
    queue: Queue,
    body: unknown,
    delaySeconds: unknown,
    groupId: unknown,
    dedupId: unknown
  ): { MessageId: string; MD5OfMessageBody: string } => {
    if (typeof body !== "string" || body.length === 0) {
      throw new SqsError(
        400,
        "MissingParameter",
        "MissingParameter;Sender",
        "The request must contain the parameter MessageBody."
      )
    }
    if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) {
      throw invalid(
        `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`
      )
    }
    const delay = delaySeconds === undefined ? queue.delaySeconds : Number(delaySeconds)
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) {
      throw invalid(
        `Value ${String(delaySeconds)} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.`
      )
    }
    if (queue.fifo) {
      // a FIFO queue takes its delay from the queue only: a per-message DelaySeconds other than 0 is refused
      if (delaySeconds !== undefined && Number(delaySeconds) !== 0) {
        throw invalid(
          `Value ${String(delaySeconds)} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`
        )
      }
      if (typeof groupId !== "string") {
        throw new SqsError(
          400,
          "MissingParameter",
          "MissingParameter;Sender",
          "The request must contain the parameter MessageGroupId."
        )
      }
      if (typeof dedupId !== "string") {
        throw invalid(
          "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
        )
      }
      const seen = queue.dedup.get(dedupId)
      if (seen !== undefined && now() - seen.at < 5 * 60_000)
        return { MessageId: seen.messageId, MD5OfMessageBody: seen.md5 }
    } else if (groupId !== undefined || dedupId !== undefined) {
      throw invalid("The request include parameter that is not valid for this queue type")
    }
    const message: Message = {
      id: randomUUID(),
      body,
      md5: md5(body),
      sentAt: now(),
      groupId: queue.fifo && typeof groupId === "string" ? groupId : undefined,
      visibleAt: now() + delay * 1000,
      receiveCount: 0,
      firstReceiveAt: undefined,
      receipt: undefined,
      deadLetterSourceArn: undefined
    }
    queue.messages.push(message)
    if (queue.fifo && typeof dedupId === "string") {
      queue.dedup.set(dedupId, { at: now(), messageId: message.id, md5: message.md5 })
    }
    return { MessageId: message.id, MD5OfMessageBody: message.md5 }
  }

  /** Moves every visible message received maxReceiveCount times to the dead-letter queue (on the next receive). */
  const redrive = (queue: Queue) => {
    if (queue.redrive === undefined) return
    const target = byArn(queue.redrive.deadLetterTargetArn)
    if (target === undefined) return
    const max = queue.redrive.maxReceiveCount
    const [moved, kept] = [
      queue.messages.filter((m) => m.visibleAt <= now() && m.receiveCount >= max),
      queue.messages.filter((m) => !(m.visibleAt <= now() && m.receiveCount >= max))
    ]
    queue.messages = kept
    for (const m of moved) {
      target.messages.push({
        ...m,
        visibleAt: now(),
        receiveCount: 0,
        firstReceiveAt: undefined,
        receipt: undefined,
        deadLetterSourceArn: queue.arn
      })
    }
  }

  /**
   * Only the system attributes asked for (MessageSystemAttributeNames, or the older AttributeNames), as SQS does. On a
   * FIFO queue a group's messages come in order, and none while one of them is in flight (received, neither deleted
   * nor visible again): its later messages wait behind it.
   */
  const receive = (queue: Queue, max: number, visibilityS: number, wanted: ReadonlyArray<string>) => {
    redrive(queue)
    const out: Array<Record<string, unknown>> = []
    const held = new Set(
      queue.messages.filter((m) => queue.fifo && m.visibleAt > now() && m.receipt !== undefined).map((m) => m.groupId)
    )
    for (const m of queue.messages) {
      if (out.length >= max) break
      if (queue.fifo && held.has(m.groupId)) continue
      if (m.visibleAt > now()) {
        // a FIFO group's later messages do not pass one still delayed
        if (queue.fifo) held.add(m.groupId)
        continue
      }
      m.receiveCount += 1
      m.firstReceiveAt ??= now()
      m.receipt = `${randomUUID()}#${m.id}`
      queue.receipts.set(m.receipt, m.id)
      m.visibleAt = now() + visibilityS * 1000
      out.push({
        MessageId: m.id,
        ReceiptHandle: m.receipt,
        MD5OfBody: m.md5,
        Body: m.body,
        ...pick(
          {
            ApproximateReceiveCount: String(m.receiveCount),
            SentTimestamp: String(m.sentAt),
            ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt),
            SenderId: "AIDAEXAMPLE",
            ...(m.deadLetterSourceArn === undefined ? {} : { DeadLetterQueueSourceArn: m.deadLetterSourceArn })
          },
          wanted
        )
      })
    }
    return out
  }

  const pick = (all: Record<string, string>, wanted: ReadonlyArray<string>) => {
    const names = wanted.includes("All") ? Object.keys(all) : wanted.filter((name) => name in all)
    return names.length === 0 ? {} : { Attributes: Object.fromEntries(names.map((name) => [name, all[name]])) }
  }

  const receiptOf = (queue: Queue, handle: unknown): string | undefined => {
    if (typeof handle !== "string" || !queue.receipts.has(handle)) {
      throw new SqsError(
        400,
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid;Sender",
        `The input receipt handle "${String(handle)}" is not a valid receipt handle.`
      )
    }
    return queue.receipts.get(handle)
  }

  /**
   * Deleting a message already gone succeeds, as SQS does. A handle other than the latest receive's (the message
   * was received again since) also succeeds, but SQS documents that the message "might not be deleted": the fake
   * takes that outcome and keeps it, so a consumer that deletes with a stale handle sees the message come back.
   */
  const deleteMessage = (queue: Queue, handle: unknown) => {
    const id = receiptOf(queue, handle)
    queue.messages = queue.messages.filter((m) => m.id !== id || m.receipt !== handle)
  }

  const checkBatch = (entries: unknown): ReadonlyArray<Record<string, unknown>> => {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new SqsError(
        400,
        "EmptyBatchRequest",
        "AWS.SimpleQueueService.EmptyBatchRequest;Sender",
        "There should be at least one SendMessageBatchRequestEntry in the request."
      )
    }
    if (entries.length > MAX_BATCH_ENTRIES) {
      throw new SqsError(
        400,
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender",
        `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`
      )
    }
    const ids = entries.map((e: { Id?: unknown }) => e.Id)
    if (new Set(ids).size !== ids.length) {
      throw new SqsError(
        400,
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct;Sender",
        "Two or more batch entries in the request have the same Id."
      )
    }
    return entries as ReadonlyArray<Record<string, unknown>>
  }

  const failedEntry = (id: unknown, error: unknown) => {
    const e = error instanceof SqsError ? error : invalid(String(error))
    return { Id: id, SenderFault: e.status < 500, Code: e.type, Message: e.message }
  }

  const operations: Record<string, (input: Record<string, unknown>) => unknown | Promise<unknown>> = {
    CreateQueue: (input) => ({
      QueueUrl: createQueue(String(input.QueueName), input.Attributes as Record<string, string> | undefined).url
    }),
    GetQueueUrl: (input) => {
      const queue = queues.get(String(input.QueueName))
      if (queue === undefined) throw noQueue()
      return { QueueUrl: queue.url }
    },
    GetQueueAttributes: (input) => {
      const queue = byUrl(input.QueueUrl)
      const t = now()
      const all: Record<string, string> = {
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(queue.messages.filter((m) => m.visibleAt <= t).length),
        ApproximateNumberOfMessagesNotVisible: String(
          queue.messages.filter((m) => m.visibleAt > t && m.receipt !== undefined).length
        ),
        ApproximateNumberOfMessagesDelayed: String(
          queue.messages.filter((m) => m.visibleAt > t && m.receipt === undefined).length
        ),
        VisibilityTimeout: String(queue.visibilityTimeoutS),
        DelaySeconds: String(queue.delaySeconds),
        ...(queue.redrive === undefined
          ? {}
          : {
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: queue.redrive.deadLetterTargetArn,
                maxReceiveCount: queue.redrive.maxReceiveCount
              })
            })
      }
      const names = (input.AttributeNames as Array<string> | undefined) ?? []
      if (names.includes("All")) return { Attributes: all }
      const picked: Record<string, string> = {}
      for (const name of names) {
        if (!(name in all) && name !== "RedrivePolicy") {
          throw new SqsError(400, "InvalidAttributeName", "InvalidAttributeName;Sender", `Unknown Attribute ${name}.`)
        }
        const value = all[name]
        if (value !== undefined) picked[name] = value
      }
      return Object.keys(picked).length === 0 ? {} : { Attributes: picked }
    },
    SetQueueAttributes: (input) => {
      setAttributes(byUrl(input.QueueUrl), (input.Attributes as Record<string, string>) ?? {})
      return {}
    },
    SendMessage: (input) =>
      enqueue(
        byUrl(input.QueueUrl),
        input.MessageBody,
        input.DelaySeconds,
        input.MessageGroupId,
        input.MessageDeduplicationId
      ),
    SendMessageBatch: (input) => {
      const queue = byUrl(input.QueueUrl)
      const entries = checkBatch(input.Entries)
      const total = entries.reduce((n, e) => n + Buffer.byteLength(String(e.MessageBody ?? "")), 0)
      if (total > MAX_MESSAGE_BYTES) {
        throw new SqsError(
          400,
          "BatchRequestTooLong",
          "AWS.SimpleQueueService.BatchRequestTooLong;Sender",
          `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes. You have sent ${total} bytes.`
        )
      }
      const Successful: Array<unknown> = []
      const Failed: Array<unknown> = []
      for (const entry of entries) {
        try {
          Successful.push({
            Id: entry.Id,
            ...enqueue(queue, entry.MessageBody, entry.DelaySeconds, entry.MessageGroupId, entry.MessageDeduplicationId)
          })
        } catch (error) {
          Failed.push(failedEntry(entry.Id, error))
        }
      }
      return { Successful, Failed }
    },
    ReceiveMessage: async (input) => {
      const queue = byUrl(input.QueueUrl)
      const max = input.MaxNumberOfMessages === undefined ? 1 : Number(input.MaxNumberOfMessages)
      if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH_ENTRIES) {
        throw invalid(
          `Value ${String(input.MaxNumberOfMessages)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`
        )
      }
      const visibility =
        input.VisibilityTimeout === undefined ? queue.visibilityTimeoutS : Number(input.VisibilityTimeout)
      if (!Number.isInteger(visibility) || visibility < 0 || visibility > MAX_VISIBILITY_S) {
        throw invalid(`Value ${String(input.VisibilityTimeout)} for parameter VisibilityTimeout is invalid.`)
      }
      const wait = Number(input.WaitTimeSeconds ?? 0)
      if (!Number.isInteger(wait) || wait < 0 || wait > 20) {
        throw invalid(
          `Value ${String(input.WaitTimeSeconds)} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`
        )
      }
      const deadline = Date.now() + wait * 1000
      for (;;) {
        const wanted = [
          ...((input.MessageSystemAttributeNames as Array<string> | undefined) ?? []),
          ...((input.AttributeNames as Array<string> | undefined) ?? [])
        ]
        const messages = receive(queue, max, visibility, wanted)
        if (messages.length > 0 || Date.now() >= deadline) return messages.length === 0 ? {} : { Messages: messages }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    },
    DeleteMessage: (input) => {
      deleteMessage(byUrl(input.QueueUrl), input.ReceiptHandle)
      return {}
    },
    DeleteMessageBatch: (input) => {
      const queue = byUrl(input.QueueUrl)
      const Successful: Array<unknown> = []
      const Failed: Array<unknown> = []
      for (const entry of checkBatch(input.Entries)) {
        try {
          deleteMessage(queue, entry.ReceiptHandle)
          Successful.push({ Id: entry.Id })
        } catch (error) {
          Failed.push(failedEntry(entry.Id, error))
        }
      }
      return { Successful, Failed }
    },
    ChangeMessageVisibility: (input) => {
      const queue = byUrl(input.QueueUrl)
      const id = receiptOf(queue, input.ReceiptHandle)
      const timeout = Number(input.VisibilityTimeout)
      if (!Number.isInteger(timeout) || timeout < 0 || timeout > MAX_VISIBILITY_S) {
        throw invalid(
          `Value ${String(input.VisibilityTimeout)} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.`
        )
      }
      const message = queue.messages.find((m) => m.id === id)
      // a message deleted (or moved by the redrive) since this receive
      if (message === undefined) {
        throw invalid(
          `Value ${String(input.ReceiptHandle)} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`
        )
      }
      // received again since (by another consumer): this receive's handle no longer holds it
      if (message.receipt !== input.ReceiptHandle) {
        throw new SqsError(
          400,
          "ReceiptHandleIsInvalid",
          "ReceiptHandleIsInvalid;Sender",
          "The receipt handle has expired."
        )
      }
      if (message.visibleAt <= now()) {
        throw new SqsError(
          400,
          "MessageNotInflight",
          "AWS.SimpleQueueService.MessageNotInflight;Sender",
          "Message does not exist or is not available for visibility timeout change."
        )
      }
      message.visibleAt = now() + timeout * 1000
      return {}
    },
    PurgeQueue: (input) => {
      byUrl(input.QueueUrl).messages = []
      return {}
    }
  }

  const reply = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-requestid": randomUUID(),
      ...headers
    })
    res.end(JSON.stringify(body))
  }

  const server = yield* serveFake(async (request, res) => {
    const fail = (e: SqsError) =>
      reply(
        res,
        e.status,
        { __type: `com.amazonaws.sqs#${e.type}`, message: e.message },
        { "x-amzn-query-error": e.queryCode }
      )
    if (sigV4Of(request.headers.authorization)?.service !== "sqs") {
      return fail(
        new SqsError(
          403,
          "InvalidClientTokenId",
          "InvalidClientTokenId;Sender",
          "The security token included in the request is invalid."
        )
      )
    }
    const target = String(request.headers["x-amz-target"] ?? "")
    const operation = operations[target.replace(/^AmazonSQS\./, "")]
    if (request.method !== "POST" || !target.startsWith("AmazonSQS.") || operation === undefined) {
      return fail(
        new SqsError(400, "UnknownOperationException", "UnknownOperationException;Sender", "Unknown operation")
      )
    }
    if (!String(request.headers["content-type"] ?? "").startsWith("application/x-amz-json-1.0")) {
      return fail(
        new SqsError(400, "InvalidParameterValue", "InvalidParameterValue;Sender", "Unsupported content type")
      )
    }
    const fault = faults.get(target.replace(/^AmazonSQS\./, ""))
    // as over a half-open connection: the request is read and never answered (closed with the fake)
    if (fault === "hang") return
    if (fault === "error") return fail(new SqsError(500, "InternalError", "InternalError;Receiver", "Internal error"))
    try {
      const input = JSON.parse(request.body === "" ? "{}" : request.body) as Record<string, unknown>
      reply(res, 200, await operation(input))
    } catch (error) {
      if (error instanceof SqsError) return fail(error)
      fail(new SqsError(500, "InternalError", "InternalError;Receiver", String(error)))
    }
  })
  base = server.url

  return {
    url: server.url,
    requests: server.requests,
    /** Operations called so far (SendMessage, ReceiveMessage, ...), in order. */
    operations: () => server.requests.map((r) => String(r.headers["x-amz-target"] ?? "").replace(/^AmazonSQS\./, "")),
    /** Creates a queue (and its dead-letter queue when `deadLetter` is given), as CreateQueue would. */
    createQueue: (
      name: string,
      options: {
        readonly deadLetter?: { readonly name: string; readonly maxReceiveCount: number }
        readonly visibilityTimeoutS?: number
      } = {}
    ) => {
      const dlq = options.deadLetter === undefined ? undefined : createQueue(options.deadLetter.name)
      const queue = createQueue(name, {
        ...(options.visibilityTimeoutS === undefined ? {} : { VisibilityTimeout: String(options.visibilityTimeoutS) }),
        ...(dlq === undefined || options.deadLetter === undefined
          ? {}
          : {
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: dlq.arn,
                maxReceiveCount: options.deadLetter.maxReceiveCount
              })
            })
      })
      return { url: queue.url, arn: queue.arn, dlqUrl: dlq?.url, dlqArn: dlq?.arn }
    },
    /** The messages a queue holds now (visible or not), oldest first; `groupId` on a FIFO queue. */
    messages: (name: string) =>
      (queues.get(name)?.messages ?? []).map((m) => ({
        id: m.id,
        body: m.body,
        groupId: m.groupId,
        receiveCount: m.receiveCount,
        visibleInMs: Math.max(0, m.visibleAt - now())
      })),
    /** Empties a queue, as PurgeQueue does (the jobs a lost Redis would have taken with it). */
    purge: (name: string) => {
      const queue = queues.get(name)
      if (queue !== undefined) queue.messages = []
    },
    /**
     * From now on `operation` (ReceiveMessage, ChangeMessageVisibility, ...) fails with a 500 (`"error"`) or is never
     * answered (`"hang"`); `undefined` puts it right again.
     */
    fault: (operation: string, kind: "error" | "hang" | undefined) => {
      if (kind === undefined) faults.delete(operation)
      else faults.set(operation, kind)
    },
    /** Moves the fake's clock forward: visibility timeouts and delays run out without waiting. */
    advance: (ms: number) => {
      offset += ms
    }
  }
})

export type FakeSqs = Effect.Effect.Success<typeof makeFakeSqs>
