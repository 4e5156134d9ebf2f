// esbuild's keepNames gives every function and class its source name back after minification by calling a helper,
// `__name(fn, "name")`, which runs Object.defineProperty on it. For the closures made on every call (Effect's
// continuations, the pipeline's per-lead arrows) that was 4-6 % of the programs' CPU. Only a class's or a function
// declaration's name is read by anyone (constructor.name in error classes, BullMQ's and other libraries' checks,
// stack traces of named functions); an arrow function's name is not, and arrows have no `prototype`. So the bundles'
// helper leaves a function without a prototype as it is, and names the rest as before.
import { readFile, writeFile } from "node:fs/promises"

// The helper as esbuild minifies it: `m=(a,b)=>f(a,"name",{value:b,configurable:!0})`, f being Object.defineProperty.
const HELPER = /(\w+)=\((\w+),(\w+)\)=>(\w+)\(\2,"name",\{value:\3,configurable:!0\}\)/g

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** One source-map segment's numbers (base64 VLQ). */
export const decodeSegment = (text) => {
  const values = []
  let value = 0
  let shift = 0
  for (const char of text) {
    const digit = BASE64.indexOf(char)
    value += (digit & 31) << shift
    if (digit & 32) shift += 5
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1)
      value = 0
      shift = 0
    }
  }
  return values
}

export const encodeSegment = (values) =>
  values
    .map((signed) => {
      let value = signed < 0 ? (-signed << 1) | 1 : signed << 1
      let out = ""
      do {
        let digit = value & 31
        value >>>= 5
        if (value > 0) digit |= 32
        out += BASE64[digit]
      } while (value > 0)
      return out
    })
    .join("")

/**
 * Move the generated columns of `line`'s segments at or after `column` by `delta` (a source map's mappings): the
 * first such segment's column is relative to the one before it, so only it changes.
 */
export const shiftMappings = (mappings, line, column, delta) => {
  const lines = mappings.split(";")
  if (lines[line] === undefined || lines[line] === "") return mappings
  const segments = lines[line].split(",")
  let at = 0
  for (let i = 0; i < segments.length; i++) {
    const values = decodeSegment(segments[i])
    at += values[0]
    if (at >= column) {
      values[0] += delta
      segments[i] = encodeSegment(values)
      break
    }
  }
  lines[line] = segments.join(",")
  return lines.join(";")
}

/**
 * Patch the keepNames helper of one output file (and its linked source map, so later columns of that line still
 * map). Returns how many helpers were patched: 0 or 1 per file, as esbuild defines it once per output.
 */
export const patchNameHelper = async (file) => {
  const text = await readFile(file, "utf8")
  const edits = []
  const patched = text.replace(HELPER, (whole, helper, fn, name, define, offset) => {
    const replacement = `${helper}=(${fn},${name})=>${fn}.prototype===void 0?${fn}:${define}(${fn},"name",{value:${name},configurable:!0})`
    edits.push({ offset, end: offset + whole.length, delta: replacement.length - whole.length })
    return replacement
  })
  if (edits.length === 0) return 0
  await writeFile(file, patched)
  const mapFile = `${file}.map`
  const map = JSON.parse(await readFile(mapFile, "utf8").catch(() => "null"))
  if (map !== null) {
    // later edits first, so each one's offset is still where it was in the original text
    for (const { offset, end, delta } of edits.reverse()) {
      const line = text.slice(0, offset).split("\n").length - 1
      const column = end - (text.lastIndexOf("\n", offset - 1) + 1)
      map.mappings = shiftMappings(map.mappings, line, column, delta)
    }
    await writeFile(mapFile, JSON.stringify(map))
  }
  return edits.length
}
