import * as Etag from "@effect/platform/Etag"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpPlatform from "@effect/platform-node/NodeHttpPlatform"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Layer from "effect/Layer"

/**
 * What the platform's HTTP handlers use (HttpPlatform, Etag, FileSystem, Path): `NodeHttpServer.layerContext`
 * without NodeContext's command executor, terminal and worker manager, which no route uses. Leaving them out keeps
 * their modules out of the bundles' start-up (the worker's error schemas alone are built at load).
 */
export const layerContext = Layer.mergeAll(NodeHttpPlatform.layer, Etag.layerWeak, NodeFileSystem.layer, NodePath.layer)
