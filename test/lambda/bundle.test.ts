import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as esbuild from "esbuild"
import { invokeBundle } from "../../scripts/bench/lib/lambdaInvoke.js"
import { compileStartEagerly, lambdaStart } from "../../scripts/build/eager.mjs"
import { lambdas } from "../../scripts/build/lambdas.mjs"
import { bundleOptions } from "../../scripts/build/options.mjs"
import { makeFakeSqs } from "../fakes/sqs.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { httpEvent, scheduledEvent, sqsEvent } from "./events.js"
import { lambdaRedis } from "./redis.js"

const root = resolve(import.meta.dirname, "../..")
/** Node 24, the runtime the bundles target (the project's `node` devDependency). */
const node = join(root, "node_modules/node/bin/node")

describe("the Lambda bundles (dist/lambda/*/index.mjs)", () => {
  it.live(
    "each, warmed as the build warms it, runs from an empty directory with no node_modules and answers its event (Node 24, Postgres, fake SQS)",
    () =>
      Effect.gen(function* () {
        const outdir = mkdtempSync(join(tmpdir(), "rf-lambda-bundle-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(outdir, { recursive: true, force: true })))
        for (const lambda of lambdas) {
          const options = bundleOptions({ root, program: lambda, outdir: join(outdir, lambda.name) })
          yield* Effect.promise(() => esbuild.build({ ...options, sourcemap: false, legalComments: "none" }))
          // as npm run build:bundles does: called once with its warm-up event, what that compiled is wrapped
          const eager = compileStartEagerly(join(outdir, lambda.name), lambdaStart(lambda.warmUpEvent))
          expect(eager.wrapped, lambda.name).toBeGreaterThan(1000)
        }
        // nothing but the bundles: no node_modules anywhere up the tree
        expect(readdirSync(outdir)).toEqual(["lambda"])
        const fake = yield* makeFakeSqs
        const { url, dlqUrl } = fake.createQueue("bundle-leads", {
          deadLetter: { name: "bundle-dlq", maxReceiveCount: 3 }
        })
        const env = {
          DATABASE_URL: testDatabaseUrl,
          DATABASE_SCHEMA: yield* testSchema,
          ...(yield* lambdaRedis),
          // the first cold start migrates this fresh schema; on AWS `revenueflow migrate` does it at deploy time
          MIGRATE_ON_START: "true",
          SQS_QUEUE_URL: url,
          SQS_DLQ_URL: dlqUrl ?? "",
          AWS_REGION: "eu-west-1",
          AWS_ACCESS_KEY_ID: "AKIAFAKEBUNDLETEST",
          AWS_SECRET_ACCESS_KEY: "fake-secret",
          AWS_ENDPOINT_URL_SQS: fake.url,
          LOG_LEVEL: "WARN"
        }
        const invoke = (name: string, event: unknown) =>
          Effect.promise(() => invokeBundle({ node, dir: join(outdir, "lambda", name), event, env }))

        const health = yield* invoke("ingest", httpEvent("http-api-v2", { method: "GET", path: "/healthz" }))
        expect(health.result).toMatchObject({ statusCode: 200, body: JSON.stringify({ status: "ok" }) })

        const sweep = yield* invoke("sweep", scheduledEvent())
        expect(sweep.result).toEqual({ enqueued: 0 })

        const missingLead = JSON.stringify({ leadId: "00000000-0000-4000-8000-000000000000" })
        const consumer = yield* invoke(
          "consumer",
          sqsEvent([{ messageId: "m-1", receiptHandle: "r-1", body: missingLead, receiveCount: 1 }])
        )
        // a job for a lead that does not exist is permanent: acknowledged, and moved to the DLQ
        expect(consumer.result).toEqual({ batchItemFailures: [] })
        expect(fake.messages("bundle-dlq").map((m) => JSON.parse(m.body).leadId)).toEqual([
          "00000000-0000-4000-8000-000000000000"
        ])
      }).pipe(Effect.scoped),
    120_000
  )
})
