/** The request's path without its query string (a module of its own: the Lambda handlers' bundle needs no node:http). */
export const pathOf = (url: string | undefined): string => {
  const path = url ?? "/"
  const query = path.indexOf("?")
  return query < 0 ? path : path.slice(0, query)
}

/**
 * The path the HttpApi's router (find-my-way, with the defaults the platform gives it) matches a request target
 * against: an absolute-form target's origin dropped, repeated slashes made one, cut at `?`, `;` or `#`, escapes
 * decoded (decodeURI's), one trailing slash dropped, lower case; undefined for a malformed escape, which it matches
 * to no route. The ingest's server answers its own routes on every path the router would take for them (`/leads/`,
 * `//leads`, `/Leads`), so that such a path is the same route, answered the same way, as the one it stands for.
 */
export const routerPath = (url: string | undefined): string | undefined => {
  let path = url ?? "/"
  if (path.charCodeAt(0) !== 47) path = path.replace(/^https?:\/\/.*?\//, "/")
  path = path.replace(/\/\/+/g, "/")
  const end = path.slice(1).search(/[?;#]/)
  if (end >= 0) path = path.slice(0, end + 1)
  if (path.includes("%")) {
    try {
      path = decodeURI(path)
    } catch {
      return undefined
    }
  }
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1)
  return path.toLowerCase()
}
