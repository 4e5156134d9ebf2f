/*
 * mallocTrim.node: glibc's malloc_trim(0) for the memory release (src/programs/memoryRelease.ts).
 *
 * After a burst, glibc's main heap keeps the pages of what was freed between blocks still in use: free() gives back
 * only the top of the heap, and Node does not expose malloc_trim, which also returns the free pages inside it
 * (madvise). One exported function, `trim()`: true when memory was returned to the system. Elsewhere than glibc it
 * is not built (scripts/build/native.mjs) and the release runs without it.
 */
#include <malloc.h>
#include <node_api.h>

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
