/** The whole-number option `name` of a benchmark's command line (at least `min`), else `fallback`. */
export const wholeNumberOption = (argv: ReadonlyArray<string>, name: string, fallback: number, min: number) => {
  const at = argv.indexOf(name)
  const value = at >= 0 ? Number(argv[at + 1]) : fallback
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} takes a whole number >= ${min}`)
  return value
}
