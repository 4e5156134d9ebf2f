// Reading esbuild metafiles: which package each bundled file comes from, duplicates, sizes.

const NODE_MODULES = "node_modules/"

/** `{ name, root }` of the package an input path belongs to, or undefined for the project's own files. */
export const packageOf = (path) => {
  const normalised = path.replaceAll("\\", "/")
  const at = normalised.lastIndexOf(NODE_MODULES)
  if (at < 0) return undefined
  const rest = normalised.slice(at + NODE_MODULES.length).split("/")
  const name = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]
  return { name, root: normalised.slice(0, at + NODE_MODULES.length + name.length) }
}

/** Packages bundled from more than one directory: name -> the directories (sorted). */
export const duplicatePackages = (metafile) => {
  const roots = new Map()
  for (const path of Object.keys(metafile.inputs)) {
    const pkg = packageOf(path)
    if (pkg === undefined) continue
    const set = roots.get(pkg.name) ?? new Set()
    set.add(pkg.root)
    roots.set(pkg.name, set)
  }
  return new Map([...roots].filter(([, set]) => set.size > 1).map(([name, set]) => [name, [...set].sort()]))
}

/** Bytes each package (or "(project)") contributes to the outputs, largest first. */
export const bytesByPackage = (metafile) => {
  const totals = new Map()
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(path)?.name ?? "(project)"
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput)
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1])
}

const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`

/** One line: the entry's size, its lazily loaded chunks, and the largest contributors. */
export const summarise = (metafile, entryPoint) => {
  const entry = Object.values(metafile.outputs).find((output) => output.entryPoint === entryPoint)
  const chunks = Object.values(metafile.outputs).filter((o) => o !== entry && o.entryPoint !== undefined)
  const top = bytesByPackage(metafile)
    .slice(0, 6)
    .map(([name, bytes]) => `${name} ${kb(bytes)}`)
    .join(", ")
  const lazy =
    chunks.length === 0 ? "" : ` + ${chunks.length} lazy chunks ${kb(chunks.reduce((n, o) => n + o.bytes, 0))}`
  return `${kb(entry?.bytes ?? 0)}${lazy} (${Object.keys(metafile.inputs).length} inputs; ${top})`
}
