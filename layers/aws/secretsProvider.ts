import * as ConfigProvider from "effect/ConfigProvider"
import * as ConfigProviderPathPatch from "effect/ConfigProviderPathPatch"
import * as Effect from "effect/Effect"
import * as HashSet from "effect/HashSet"
import * as Ref from "effect/Ref"

/** A snapshot of secret values: env-style names (DATABASE_URL) to their string values. */
export type SecretValues = ReadonlyMap<string, string>

/**
 * A ConfigProvider that reads each key from the latest secret snapshot when the snapshot has it, and from `base`
 * otherwise: secret values win, even an invalid one (it is reported, not silently replaced by the env value).
 * Every load reads the Ref, so a refresh is visible to the next read. `base` is used through its flat form, so a
 * path patch on it (ConfigProvider.nested / constantCase) is not applied: pass an env- or map-style provider.
 */
export const refreshingProvider = (
  snapshot: Ref.Ref<SecretValues>,
  base: ConfigProvider.ConfigProvider
): ConfigProvider.ConfigProvider => {
  const overlay = Ref.get(snapshot).pipe(
    Effect.map((values) => ({
      values,
      flat: ConfigProvider.fromMap(new Map(values), { pathDelim: "_" }).flattened
    }))
  )
  return ConfigProvider.fromFlat(
    ConfigProvider.makeFlat({
      load: (path, primitive, split) =>
        Effect.flatMap(overlay, ({ flat, values }) =>
          values.has(path.join("_")) ? flat.load(path, primitive, split) : base.flattened.load(path, primitive, split)
        ),
      enumerateChildren: (path) =>
        Effect.flatMap(overlay, ({ flat }) =>
          Effect.zipWith(
            flat.enumerateChildren(path),
            base.flattened.enumerateChildren(path).pipe(Effect.orElseSucceed(() => HashSet.empty<string>())),
            (left, right) => HashSet.union(left, right)
          )
        ),
      patch: ConfigProviderPathPatch.empty
    })
  )
}
