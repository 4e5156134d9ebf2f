import * as Effect from "effect/Effect"
import { SalesforceCallFailed } from "./call.js"

/** The org's Task Status values the tools write: a new task's, and a finished one's. */
export interface TaskStatuses {
  /** The picklist's default (an open value): a follow-up task starts there. */
  readonly open: string
  /** A closed value: a logged activity is done. Completed when the org has it closed, else its first closed value. */
  readonly closed: string
}

/** The picklist's values with what the org says of them, in its sort order (TaskStatus: API 36.0 on). */
export const taskStatusQuery = "SELECT ApiName, IsClosed, IsDefault FROM TaskStatus ORDER BY SortOrder ASC"

interface TaskStatusRow {
  readonly ApiName?: unknown
  readonly IsClosed?: unknown
  readonly IsDefault?: unknown
}

/** The statuses to write from the org's values; undefined when it has no open or no closed one. */
export const pickTaskStatuses = (rows: ReadonlyArray<TaskStatusRow>): TaskStatuses | undefined => {
  const values = rows.filter((row): row is TaskStatusRow & { ApiName: string } => typeof row.ApiName === "string")
  const open = values.filter((row) => row.IsClosed !== true)
  const closed = values.filter((row) => row.IsClosed === true)
  const start = open.find((row) => row.IsDefault === true) ?? open[0]
  const finish = closed.find((row) => row.ApiName === "Completed") ?? closed[0]
  return start === undefined || finish === undefined ? undefined : { open: start.ApiName, closed: finish.ApiName }
}

/** A write refused for its Task Status: a value the org does not have (any more). */
export const refusedStatus = (error: SalesforceCallFailed): boolean =>
  Array.isArray(error.failure.body) &&
  error.failure.body.some(
    (entry: { errorCode?: unknown; fields?: unknown; message?: unknown }) =>
      entry?.errorCode === "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" &&
      ((Array.isArray(entry.fields) && entry.fields.includes("Status")) ||
        (typeof entry.message === "string" && entry.message.startsWith("Status:")))
  )

/**
 * The org's Task statuses, read once per process (one query, not counted in a tool's cost, as the identity lookup is
 * not) and kept. `withStatuses` runs a write with them; refused for its status under values kept from an earlier call
 * (an admin edited the picklist since), it reads them again and writes once more.
 */
export const makeTaskStatuses = (
  query: <A>(soql: string) => Effect.Effect<{ readonly records: ReadonlyArray<A> }, SalesforceCallFailed>
) => {
  let kept: TaskStatuses | undefined
  const read = Effect.flatMap(query<TaskStatusRow>(taskStatusQuery), (res) => {
    const statuses = pickTaskStatuses(res.records)
    if (statuses === undefined) {
      return Effect.fail(
        new SalesforceCallFailed({
          failure: {
            status: 400,
            code: "NO_TASK_STATUS",
            message:
              "the org's Task Status picklist has no open or no closed value (Setup: Activities, Task Fields, Status)"
          }
        })
      )
    }
    kept = statuses
    return Effect.succeed(statuses)
  })
  return <A>(
    write: (statuses: TaskStatuses) => Effect.Effect<A, SalesforceCallFailed>
  ): Effect.Effect<A, SalesforceCallFailed> => {
    const known = kept
    if (known === undefined) return Effect.flatMap(read, write)
    return write(known).pipe(Effect.catchIf(refusedStatus, () => Effect.flatMap(read, write)))
  }
}
