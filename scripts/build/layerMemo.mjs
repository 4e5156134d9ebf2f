// A build patch of Effect's layer memo map (the bundles only; the sources and their tests run Effect as published).
//
// Every layer a program builds goes through `MemoMapImpl.getOrElseMemoize` (effect/src/internal/layer.ts): the
// ingest builds ~90 at start (each `Layer.provide` is four: a suspension, the provide, a merge with the outer context
// and that context), the consumer more. Effect 3.22 does the memo step as effects: the map sits in a SynchronizedRef
// (a semaphore's take and release around every lookup), and a new entry's two Refs and Deferred are made by effects
// chained with flatMap, ~45 of the ~190 operations a layer costs to build, on a runtime still cold at start.
//
// The patched method does the same lookup and the same bookkeeping synchronously, in one operation: no fiber runs
// between reading the map and adding the entry (a fiber only yields between operations), so two fibers asking for
// one layer still build it once, which is what the semaphore was for. What a build does (its scope, the FiberRefs
// it changes, its finalizer counting its users, a failure reaching every waiter) is Effect's own code as before.
// From the lookup on the method is uninterruptible, but for the build itself and a wait on another fiber's build:
// an interrupt between adding an entry and starting its build would leave that entry's waiters waiting for ever,
// and one between counting a user of a built layer and putting its release on the scope would keep the layer
// from ever being released (Effect's own method has both windows). The waiters have their answer before the
// builder's scope is given the finalizer: were that scope closed meanwhile, the finalizer runs at once, and a
// release failing there fails the builder, not every waiter for ever (Effect's own leaves them waiting).
// The method is replaced only when its text is the one this was written against (its SHA-256 below): any other
// version of Effect is bundled unpatched, with a build warning. test/ops/layerMemo.test.ts runs a set of layer
// programs bundled both ways and requires the same results, and fewer operations with the patch.
import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"

const methodStart = "  getOrElseMemoize(layer, scope) {\n"
// the method runs to the end of its class, just before `makeMemoMap`
const methodEnd = "\n/** @internal */\nexport const makeMemoMap"
/** SHA-256 of effect 3.22.4's dist/esm/internal/layer.js from `methodStart` to `methodEnd`. */
export const memoMethodSha256 = "221bcebf20a083361530116a7d69f59e2241671c4d619c0df7183b377f0a41db"

// Written against the names layer.js imports: core, effect (core-effect), fiberRuntime, ref, pipe, isFresh,
// makeBuilder, EffectOpCodes.
const leanMethod = `  getOrElseMemoize(layer, scope) {
    // Uninterruptible from the lookup on, but for a layer's own build and the wait on another fiber's: an entry, once
    // in the map, always has an answer its waiters see, and a user's count always has its finalizer on the scope.
    return core.uninterruptibleMask((restore) => core.withFiberRuntime((fiber) => {
      const layers = this.rfLayers ??= new Map();
      const known = layers.get(layer);
      if (known !== undefined) {
        const { built, users, release } = known;
        return pipe(
          restore(core.deferredAwait(built)),
          core.flatMap(([patch, context]) => pipe(
            ref.update(users, (n) => n + 1),
            core.zipRight(effect.patchFiberRefs(patch)),
            core.zipRight(core.scopeAddFinalizerExit(scope, release)),
            core.as(context)
          ))
        );
      }
      const users = ref.unsafeMake(0);
      const built = core.deferredUnsafeMake(fiber.id());
      const finalizer = ref.unsafeMake(() => core.void);
      const making = pipe(
        fiberRuntime.scopeMake(),
        core.flatMap((innerScope) => pipe(
          restore(core.flatMap(makeBuilder(layer, innerScope, true), (f) => effect.diffFiberRefs(f(this)))),
          core.exit,
          core.flatMap((exit) => {
            if (exit._tag === EffectOpCodes.OP_FAILURE) {
              return pipe(
                core.deferredFailCause(built, exit.effect_instruction_i0),
                core.zipRight(core.scopeClose(innerScope, exit)),
                core.zipRight(core.failCause(exit.effect_instruction_i0))
              );
            }
            return pipe(
              ref.set(finalizer, (end) => pipe(
                core.scopeClose(innerScope, end),
                core.whenEffect(ref.modify(users, (n) => [n === 1, n - 1])),
                core.asVoid
              )),
              core.zipRight(ref.update(users, (n) => n + 1)),
              // the waiters' answer first: a scope closed meanwhile runs the finalizer below at once, and a release
              // that fails there fails this build only
              core.zipRight(core.deferredSucceed(built, exit.effect_instruction_i0)),
              core.zipRight(core.scopeAddFinalizerExit(scope, (end) => pipe(
                core.sync(() => layers.delete(layer)),
                core.zipRight(ref.get(finalizer)),
                core.flatMap((release) => release(end))
              ))),
              core.as(exit.effect_instruction_i0[1])
            );
          })
        ))
      );
      if (!isFresh(layer)) {
        layers.set(layer, {
          built,
          users,
          release: (end) => pipe(ref.get(finalizer), core.flatMap((release) => release(end)))
        });
      }
      return making;
    }));
  }
}`

/** layer.js with the lean method, or undefined when its method is not the text this patch was written against. */
export const patchLayerMemo = (source) => {
  const start = source.indexOf(methodStart)
  const end = start < 0 ? -1 : source.indexOf(methodEnd, start)
  if (end < 0) return undefined
  const method = source.slice(start, end)
  if (createHash("sha256").update(method).digest("hex") !== memoMethodSha256) return undefined
  return source.slice(0, start) + leanMethod + source.slice(end)
}

export const effectLayerMemo = {
  name: "effect-layer-memo",
  setup(build) {
    build.onLoad(
      { filter: /[\\/]node_modules[\\/]effect[\\/]dist[\\/]esm[\\/]internal[\\/]layer\.js$/ },
      async (args) => {
        const patched = patchLayerMemo(await readFile(args.path, "utf8"))
        return patched === undefined
          ? {
              warnings: [{ text: "effect internal/layer.js changed: its memo map is bundled as it is (layerMemo.mjs)" }]
            }
          : { contents: patched, loader: "js" }
      }
    )
  }
}
