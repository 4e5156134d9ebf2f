/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) => {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (typeof cell === "number" ? fmt(cell) : cell)))]
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? "").length)))
  const line = (row: ReadonlyArray<string | number>, numeric: ReadonlyArray<boolean>) =>
    row
      .map((cell, i) => (numeric[i] ? String(cell).padStart(widths[i] ?? 0) : String(cell).padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === "number"))
  return [
    line(headers, numeric),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map((row) => line(row, numeric))
  ].join("\n")
}

/** A number with sensible precision: integers as is, small values with 2 decimals, large with none. */
export const fmt = (n: number) =>
  !Number.isFinite(n) ? "-" : Number.isInteger(n) ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2)

/** ratio a / b formatted "0.83x". */
export const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "-")
