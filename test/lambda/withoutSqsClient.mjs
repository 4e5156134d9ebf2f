// A module resolve hook (node:module register) for which @aws-sdk/client-sqs is not installed: resolving it fails as
// Node's own resolver fails for a package missing from node_modules (ERR_MODULE_NOT_FOUND, "Cannot find package").
export const resolve = (specifier, context, next) => {
  if (specifier === "@aws-sdk/client-sqs" || specifier.startsWith("@aws-sdk/client-sqs/")) {
    const error = new Error(`Cannot find package '@aws-sdk/client-sqs' imported from ${context.parentURL}`)
    error.code = "ERR_MODULE_NOT_FOUND"
    throw error
  }
  return next(specifier, context)
}
