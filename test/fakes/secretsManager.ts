import * as Effect from "effect/Effect"
import { serveFake, sigV4Of } from "./bedrock.js"

/**
 * Secrets Manager's JSON protocol (POST / with X-Amz-Target: secretsmanager.GetSecretValue, body {SecretId}).
 * Secrets are strings the test can rotate; requests not SigV4-signed for "secretsmanager" are refused.
 */
export const makeFakeSecretsManager = (initial: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const secrets = new Map(Object.entries(initial))
    let version = 0
    let failing = false
    const server = yield* serveFake((request, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" })
        res.end(JSON.stringify(body))
      }
      const fail = (status: number, type: string, message: string) => send(status, { __type: type, message })
      if (sigV4Of(request.headers.authorization)?.service !== "secretsmanager") {
        return fail(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
      }
      if (request.method !== "POST" || request.headers["x-amz-target"] !== "secretsmanager.GetSecretValue") {
        return fail(400, "UnknownOperationException", "Unknown operation")
      }
      if (failing) return fail(500, "InternalServiceError", "An error occurred on the server side.")
      const { SecretId } = JSON.parse(request.body) as { SecretId: string }
      const value = secrets.get(SecretId)
      if (value === undefined) {
        return fail(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
      }
      version += 1
      return send(200, {
        ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${SecretId}-AbCdEf`,
        Name: SecretId,
        VersionId: `v-${version}`,
        SecretString: value,
        VersionStages: ["AWSCURRENT"],
        CreatedDate: 1_700_000_000
      })
    })
    return {
      ...server,
      /** Replace a secret's value, as a rotation would. */
      rotate: (secretId: string, value: string) => void secrets.set(secretId, value),
      /** Make every call answer 500 (or recover). */
      setFailing: (on: boolean) => {
        failing = on
      },
      /** Secret ids asked for so far, in order. */
      secretIds: () => server.requests.map((r) => (JSON.parse(r.body) as { SecretId: string }).SecretId)
    }
  })
