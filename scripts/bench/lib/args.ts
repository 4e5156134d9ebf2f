const isWhole = (text: string | undefined, min: number) =>
  text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) && Number(text) >= min

/**
 * The whole-number option `name` of a benchmark's command line (at least `min`), else `fallback`; a value that is not
 * one ("5s", "abc", missing) stops the benchmark instead of running with NaN.
 */
export const wholeNumberOption = (argv: ReadonlyArray<string>, name: string, fallback: number, min: number) => {
  const at = argv.indexOf(name)
  if (at < 0) return fallback
  const text = argv[at + 1]
  if (!isWhole(text, min)) throw new Error(`${name} takes a whole number >= ${min} (got ${text ?? "nothing"})`)
  return Number(text)
}

/** A comma-separated list of whole numbers (`--connections 50,200`), each at least `min`, else `fallback`. */
export const wholeNumbersOption = (
  argv: ReadonlyArray<string>,
  name: string,
  fallback: ReadonlyArray<number>,
  min: number
): ReadonlyArray<number> => {
  const at = argv.indexOf(name)
  if (at < 0) return fallback
  const text = argv[at + 1]
  const items = text?.split(",") ?? []
  if (items.length === 0 || !items.every((item) => isWhole(item, min)))
    throw new Error(`${name} takes whole numbers >= ${min}, comma-separated (got ${text ?? "nothing"})`)
  return items.map(Number)
}
