// V8's garbage collections as `node --trace-gc-nvp` prints them (one line of name=value pairs per collection), summed
// over a measured interval: how much a program allocates and keeps per unit of work, and what collecting it costs on
// the main thread and on V8's helper threads.

/** One collection. Sizes in bytes, times in ms. */
export interface GcEvent {
  readonly kind: "scavenge" | "mark-compact" | "other"
  /** Main-thread time: the pause, plus a mark-compact's incremental marking steps run before it. */
  readonly mainMs: number
  /** Helper-thread time (every `background.*` phase: parallel scavenging, concurrent marking and sweeping). */
  readonly backgroundMs: number
  /** Bytes allocated since the collection before it. */
  readonly allocated: number
  /** Bytes moved from the young generation to the old one. */
  readonly promoted: number
  /** Young-generation bytes still alive at this collection (copied within it, or promoted). */
  readonly survived: number
}

const number = (fields: ReadonlyMap<string, string>, key: string) => {
  const value = Number(fields.get(key))
  return Number.isFinite(value) ? value : 0
}

/** A `--trace-gc-nvp` line as a GcEvent; undefined for any other line. */
export const parseNvpLine = (line: string): GcEvent | undefined => {
  const at = line.indexOf("pause=")
  if (at < 0 || !line.includes(" gc=")) return undefined
  const fields = new Map<string, string>()
  for (const pair of line.slice(at).split(/\s+/)) {
    const eq = pair.indexOf("=")
    if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1))
  }
  const gc = fields.get("gc")
  const kind = gc === "s" ? "scavenge" : gc === "mc" ? "mark-compact" : "other"
  let backgroundMs = 0
  for (const [key, value] of fields) if (key.startsWith("background.")) backgroundMs += Number(value) || 0
  return {
    kind,
    mainMs: number(fields, "pause") + (kind === "mark-compact" ? number(fields, "incremental") : 0),
    backgroundMs,
    allocated: number(fields, "allocated"),
    promoted: number(fields, "promoted"),
    survived: number(fields, "new_space_survived")
  }
}

/** What the collections of an interval cost per unit of work (a lead, a request). */
export interface GcSummary {
  readonly scavenges: number
  readonly markCompacts: number
  readonly allocatedKiB: number
  readonly survivedKiB: number
  readonly promotedKiB: number
  readonly scavengeMainMs: number
  readonly scavengeBackgroundMs: number
  readonly markCompactMainMs: number
  readonly markCompactBackgroundMs: number
}

/**
 * The collections among `lines`, summed and divided by `units`. Every collection that is not a scavenge (a
 * mark-compact, or a young-generation mark-sweep under --minor-ms) is counted with the mark-compacts' time.
 */
export const summarizeGc = (lines: ReadonlyArray<string>, units: number): GcSummary => {
  const per = (x: number) => x / Math.max(1, units)
  let scavenges = 0
  let markCompacts = 0
  let allocated = 0
  let survived = 0
  let promoted = 0
  let scavengeMain = 0
  let scavengeBackground = 0
  let markCompactMain = 0
  let markCompactBackground = 0
  for (const line of lines) {
    const event = parseNvpLine(line)
    if (event === undefined) continue
    allocated += event.allocated
    promoted += event.promoted
    if (event.kind === "scavenge") {
      scavenges++
      survived += event.survived
      scavengeMain += event.mainMs
      scavengeBackground += event.backgroundMs
    } else {
      if (event.kind === "mark-compact") markCompacts++
      markCompactMain += event.mainMs
      markCompactBackground += event.backgroundMs
    }
  }
  return {
    scavenges,
    markCompacts,
    allocatedKiB: per(allocated / 1024),
    survivedKiB: per(survived / 1024),
    promotedKiB: per(promoted / 1024),
    scavengeMainMs: per(scavengeMain),
    scavengeBackgroundMs: per(scavengeBackground),
    markCompactMainMs: per(markCompactMain),
    markCompactBackgroundMs: per(markCompactBackground)
  }
}
