/** The request's path without its query string (a module of its own: the Lambda handlers' bundle needs no node:http). */
export const pathOf = (url: string | undefined): string => {
  const path = url ?? "/"
  const query = path.indexOf("?")
  return query < 0 ? path : path.slice(0, query)
}
