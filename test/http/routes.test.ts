import { describe, expect, it } from "@effect/vitest"
import { IngestApi } from "../../src/http/api.js"
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
