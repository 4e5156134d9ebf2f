import { fmt, table } from "./table.js"

/** One of issue #16's targets as measured in this run: the figure, the bound it must stay within, met or not. */
export interface Target {
  readonly what: string
  /** The measured figure, formatted with its unit ("1.21x", "2.4 ms"). */
  readonly measured: string
  /** The bound, formatted ("<= 1.3x"). */
  readonly bound: string
  readonly met: boolean
}

/** A ratio target: `value` (already a ratio) at most / at least `limit`. */
export const ratioTarget = (what: string, value: number, op: "<=" | ">=", limit: number): Target => ({
  what,
  measured: Number.isFinite(value) ? `${value.toFixed(2)}x` : "-",
  bound: `${op} ${limit}x`,
  met: Number.isFinite(value) && (op === "<=" ? value <= limit : value >= limit)
})

/** An absolute target in `unit`. */
export const valueTarget = (what: string, value: number, unit: string, op: "<=" | ">=", limit: number): Target => ({
  what,
  measured: `${fmt(value)}${unit === "" ? "" : ` ${unit}`}`,
  bound: `${op} ${limit}${unit === "" ? "" : ` ${unit}`}`,
  met: Number.isFinite(value) && (op === "<=" ? value <= limit : value >= limit)
})

/** The targets as a table and a count line. */
export const renderTargets = (targets: ReadonlyArray<Target>) => {
  const met = targets.filter((t) => t.met).length
  return [
    table(
      ["target (issue #16)", "measured", "bound", ""],
      targets.map((t) => [t.what, t.measured, t.bound, t.met ? "MET" : "MISSED"])
    ),
    `targets: ${met} met, ${targets.length - met} missed`
  ].join("\n")
}
