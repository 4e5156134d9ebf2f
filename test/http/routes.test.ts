import { describe, expect, it } from "@effect/vitest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { IngestApi } from "../../src/http/api.js"
import { routerPath } from "../../src/http/paths.js"
import { directRoutes } from "../../src/http/routes.js"

describe("the routes the ingest answers without the HttpApi", () => {
  it("are the HttpApi's endpoints of the same name, method and path: what the server answers is what it documents", () => {
    const declared = Object.values(IngestApi.groups).flatMap((group) =>
      Object.values(group.endpoints).map((endpoint) => ({
        name: endpoint.name,
        method: endpoint.method,
        path: endpoint.path
      }))
    )
    for (const [name, route] of Object.entries(directRoutes)) {
      expect(declared.filter((endpoint) => endpoint.name === name)).toEqual([{ name, ...route }])
    }
    // and no other endpoint sits on one of those paths with that method (it would never be reached)
    for (const route of Object.values(directRoutes)) {
      expect(declared.filter((e) => e.method === route.method && e.path === route.path)).toHaveLength(1)
    }
  })
})

describe("the paths the platform's router takes for a direct route", () => {
  const targets = [
    "/leads",
    "/leads/",
    "//leads",
    "/Leads",
    "/LEADS//",
    "/l%65ads",
    "/%6C%65ads?x=1",
    "/leads;jsessionid=1",
    "/leads/?x=1",
    "/leads#frag",
    "/webhooks//marketo",
    "/Webhooks/HubSpot/",
    "/webhooks/hub%73pot",
    "/healthz/",
    "/leadsx",
    "/leads/x",
    "/leads%2F",
    "/le%2Fads",
    "/leads%",
    "/leads%zz",
    "/webhooks/hubspot//x",
    "/"
  ]

  it.effect("are those routerPath reads as the route's path: the ingest's server answers them itself", () =>
    Effect.gen(function* () {
      const routes = Object.values(directRoutes)
      const router = routes.reduce(
        (router, route) =>
          HttpRouter.route(route.method)(
            route.path,
            Effect.succeed(HttpServerResponse.empty({ headers: { "x-route": route.path } }))
          )(router),
        HttpRouter.empty
      )
      const app = yield* HttpRouter.toHttpApp(router)
      for (const method of ["GET", "POST"]) {
        const aliased = new Map(
          routes.filter((route) => route.method === method).map((route) => [routerPath(route.path), route.path])
        )
        for (const target of targets) {
          const request = HttpServerRequest.fromWeb(new Request(`http://ingest.test${target}`, { method }))
          const exit = yield* Effect.exit(Effect.provideService(app, HttpServerRequest.HttpServerRequest, request))
          const byRouter = Exit.isSuccess(exit) ? exit.value.headers["x-route"] : undefined
          const read = routerPath(target)
          expect(read === undefined ? undefined : aliased.get(read), `${method} ${target}`).toBe(byRouter)
        }
      }
    })
  )
})
