// The RevenueFlow console: plain browser JavaScript, no build step. It reads the ingest's JSON routes (GET /leads,
// /leads/:id/audit, /dead-letters, /ops/state) and replays with POST /leads/:id/replay. Everything shown is set as
// text (never as HTML): lead fields are untrusted input. The refresh every two seconds redraws only what changed, in
// place, so a keyboard or screen-reader user keeps focus and place (see reconcile and keepingFocus). One refresh runs
// at a time, the next two seconds after it settles, and every request has a deadline: a slow server gets a few
// requests, never a growing queue of them (a browser opens six connections to a host; a Replay would wait behind
// the rest).
;(() => {
  /** The pause between the end of one refresh and the start of the next. */
  const REFRESH_MS = 2000
  /** A read not answered by then is given up: the console says the ingest is unavailable and tries again. */
  const READ_DEADLINE_MS = 10_000
  /** A replay not answered by then is given up (it may still be done: the lists show it once the ingest answers). */
  const REPLAY_DEADLINE_MS = 15_000
  /** A refresh still waiting after this is shown as slow. */
  const SLOW_MS = 3000
  /** The dead letters listed (the oldest first); the header's FAILED count says how many there are. */
  const DEAD_LETTERS_LISTED = 50
  const KEY_STORAGE = "revenueflow.apiKey"
  /** The lead id in the address (#/leads/<id>); none when the hash is not one (a bad escape opens nothing). */
  const hashLead = () => {
    try {
      return decodeURIComponent(location.hash.replace(/^#\/leads\//, "")) || undefined
    } catch {
      return undefined
    }
  }
  let selected = hashLead()
  let apiKey = sessionStorage.getItem(KEY_STORAGE) || undefined
  let needsKey = false
  /** The lead list: the status picked (all when empty), where the page shown starts and where the next one would. */
  const leadPages = { status: "", after: undefined, next: undefined }
  /** The last /ops/state answer: the Replay message says what the circuit breakers mean for a replay. */
  let lastState
  /** How many dead letters the last /dead-letters answer listed. */
  let deadListed
  /** When every part of a refresh last answered: what the page shows is from then. */
  let lastUpdated
  /** What the last replay of a lead said, by lead id: the lead's view shows it under its Replay button. */
  const replayNotes = new Map()

  const $ = (id) => document.getElementById(id)

  /** An element with text and children; attributes by name. Text only: nothing is parsed as HTML. */
  const el = (tag, attributes, ...children) => {
    const node = document.createElement(tag)
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue
      if (name === "onclick") node.addEventListener("click", value)
      else node.setAttribute(name, value === true ? "" : String(value))
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue
      node.append(child instanceof Node ? child : document.createTextNode(String(child)))
    }
    return node
  }

  const badge = (status) => el("span", { class: `status ${status}`, "data-status": status }, status)

  const age = (iso) => {
    const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000))
    if (seconds < 60) return `${seconds}s ago`
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`
    return `${Math.floor(seconds / 86400)}d ago`
  }

  /** An age that the refresh keeps current in place (the element is never rebuilt for it). */
  const ageOf = (iso) => el("span", { "data-age": iso, title: iso }, age(iso))
  const refreshAges = () => {
    for (const node of document.querySelectorAll("[data-age]")) {
      const text = age(node.getAttribute("data-age"))
      if (node.textContent !== text) node.textContent = text
    }
  }

  /** What a part was last drawn from: a part whose data did not change is left as it is. */
  const drawn = new WeakMap()
  const unchanged = (target, data) => {
    const signature = JSON.stringify(data)
    if (drawn.get(target) === signature) return true
    drawn.set(target, signature)
    return false
  }

  const definitions = (target, entries) => {
    if (
      unchanged(
        target,
        entries.map(([term, value]) => [term, value instanceof Node ? value.outerHTML : value])
      )
    )
      return
    target.replaceChildren(...entries.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]))
  }

  /**
   * Redraws the rows of `tbody` from `items` ({ key, data, build }) keeping every row whose data did not change: the
   * element stays in the page, so focus, a screen reader's place and the selection stay with it. A row is only ever
   * inserted, rebuilt (its data changed) or removed.
   */
  const reconcile = (tbody, items) => {
    const existing = new Map()
    for (const row of tbody.rows) existing.set(row.getAttribute("data-key"), row)
    const wanted = items.map(({ key, data, build }) => {
      const signature = JSON.stringify(data)
      const row = existing.get(key)
      if (row && drawn.get(row) === signature) return row
      const fresh = build()
      fresh.setAttribute("data-key", key)
      drawn.set(fresh, signature)
      return fresh
    })
    const kept = new Set(wanted)
    for (const row of [...tbody.rows]) if (!kept.has(row)) row.remove()
    wanted.forEach((row, index) => {
      if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] || null)
    })
  }

  /**
   * Runs a redraw and gives focus back: to the same control (by its data-focus key) when it was rebuilt, else, when
   * its row is gone (a replayed dead letter), to the control now at its place in the same list, else to the list's
   * heading. Nothing moves focus while the user stays on a control that is still there.
   */
  const keepingFocus = (redraw) => {
    const active = document.activeElement
    const key = active?.getAttribute ? active.getAttribute("data-focus") : null
    const group = key ? active.closest("[data-focus-group]") : null
    const index = group ? [...group.querySelectorAll("[data-focus]")].indexOf(active) : -1
    redraw()
    if (!key || (active.isConnected && document.activeElement === active)) return
    const same = document.querySelector(`[data-focus="${CSS.escape(key)}"]`)
    if (same) return same.focus({ preventScroll: true })
    if (!group) return
    // a group redrawn with its part (the lead's view) has no controls left: focus goes to the element it names
    const controls = group.isConnected ? group.querySelectorAll("[data-focus]") : []
    const next = controls[Math.min(index, controls.length - 1)] || $(group.getAttribute("data-focus-group"))
    if (next) next.focus({ preventScroll: true })
  }

  class Unauthorized extends Error {}
  /** A request that had no (whole) answer within its deadline; the browser has given it up. */
  class NoAnswer extends Error {}

  const timedOut = (error) => error?.name === "TimeoutError" || error?.name === "AbortError"

  /** One request, given up after `deadlineMs` (the connection is freed for the next). */
  const api = async (method, path, deadlineMs = READ_DEADLINE_MS) => {
    const headers = { accept: "application/json" }
    if (apiKey) headers["x-api-key"] = apiKey
    const noAnswer = () => new NoAnswer(`${method} ${path.split("?")[0]}: no answer within ${deadlineMs / 1000} s`)
    const signal = AbortSignal.timeout(deadlineMs)
    const response = await fetch(path, { method, headers, signal }).catch((error) => {
      throw timedOut(error) ? noAnswer() : error
    })
    if (response.status === 401) throw new Unauthorized("an API key is required")
    const body = await response.json().catch((error) => {
      if (timedOut(error)) throw noAnswer()
      return {}
    })
    return { status: response.status, body }
  }

  const showError = (message) => {
    $("error").hidden = !message
    if ($("error").textContent !== (message || "")) $("error").textContent = message || ""
  }

  /** The time what the page shows is from, as a sentence (none before the first full answer). */
  const asOf = () =>
    lastUpdated ? ` What is shown is from ${lastUpdated.toLocaleTimeString("en-GB")}.` : " Nothing is shown yet."

  /** Whether the ingest answers: nothing when it does, "slow" while a refresh waits, "unavailable" when one failed. */
  const showConnection = (state, text) => {
    const node = $("connection")
    node.hidden = state === "ok"
    node.setAttribute("data-state", state)
    if (node.textContent !== text) node.textContent = text
  }

  /** Breakers the state shows as not closed. */
  const openBreakers = (state) => (state?.breakers ? state.breakers.filter((b) => b.state !== "closed") : [])

  /** Breakers not closed, in words: "a circuit breaker is open (bedrock)", "circuit breakers are open (…), …". */
  const notClosed = (open) => {
    const states = open.map((b) => `${b.state} (${b.name})`).join(", ")
    return `${open.length === 1 ? "a circuit breaker is" : "circuit breakers are"} ${states}`
  }

  /** The breaker card: the state where this server can read it, else where to look. */
  const breakerEntries = (state) => {
    if (state.breakerSource === "consumer")
      return [
        ["kept in", "each consumer process (CIRCUIT_BREAKER=MEMORY): this server cannot see them"],
        ["see", "revenueflow_circuit_breaker_state on the consumers' /metrics (2 = open)"],
        ["alert", "RevenueFlowCircuitBreakerOpen"]
      ]
    if (state.breakers === null) return [["shared (Redis)", "unavailable: Redis did not answer"]]
    const from = state.breakerSource === "redis" ? "shared, in Redis" : "this process"
    if (state.breakers.length === 0) return [["—", `none reported (${from})`]]
    return [...state.breakers.map((b) => [b.name, badge(b.state)]), ["read from", from]]
  }

  const renderState = (state) => {
    definitions($("backends"), Object.entries(state.backends))
    definitions(
      $("queue"),
      state.queue === null
        ? [["queue", "unavailable"]]
        : [
            ["waiting", state.queue.waiting],
            ["active", state.queue.active],
            ["delayed", state.queue.delayed],
            ["completed", state.queue.completed],
            ["failed", state.queue.failed],
            ["oldest waiting", `${Math.round(state.queue.oldestWaitingAgeMs / 1000)}s`]
          ]
    )
    // a count at leadsCountedUpTo is a lower bound: the ingest stops counting there
    const upTo = state.leadsCountedUpTo
    definitions(
      $("counts"),
      state.leads === null
        ? [["store", "unavailable"]]
        : Object.entries(state.leads).map(([status, n]) => [
            status,
            upTo !== undefined && n >= upTo ? `${upTo.toLocaleString("en-US")}+` : n
          ])
    )
    lastState = state
    definitions($("breakers"), breakerEntries(state))
    renderDeadLetterCount()
    const open = openBreakers(state)
    const note =
      open.length === 0
        ? ""
        : `${notClosed(open).replace(/^./, (c) => c.toUpperCase())}: a replayed lead that needs its service waits ` +
          "for it and runs once the breaker lets calls through again."
    $("breaker-note").hidden = note === ""
    if ($("breaker-note").textContent !== note) $("breaker-note").textContent = note
    definitions(
      $("limits"),
      state.rateLimits.map((t) => [t.tier, `${t.limit} / ${Math.round(t.windowMs / 1000)}s ${t.scope}`])
    )
  }

  const renderLeads = (leads) => {
    const items = leads.map((lead) => ({
      key: lead.id,
      data: [lead, lead.id === selected],
      build: () =>
        el(
          "tr",
          {
            class: lead.id === selected ? "pick selected" : "pick",
            "data-lead": lead.id,
            // a click anywhere on the row opens the lead; from the keyboard, the link in its first cell does
            onclick: (event) => {
              if (!event.target.closest("a, button")) select(lead.id)
            }
          },
          el(
            "td",
            {},
            el(
              "a",
              {
                href: `#/leads/${lead.id}`,
                "data-focus": `lead:${lead.id}`,
                "aria-label": `Open lead ${lead.id.slice(0, 8)}`,
                "aria-current": lead.id === selected ? "true" : undefined,
                title: lead.id
              },
              el("code", {}, lead.id.slice(0, 8))
            )
          ),
          el("td", {}, badge(lead.status)),
          el("td", {}, lead.email),
          el("td", {}, lead.company || ""),
          el("td", {}, lead.decision || ""),
          el("td", {}, ageOf(lead.updatedAt))
        )
    }))
    if (items.length === 0)
      items.push({
        key: "none",
        data: "none",
        build: () =>
          el(
            "tr",
            {},
            el(
              "td",
              { colspan: 6, class: "hint" },
              leadPages.status ? `No ${leadPages.status} leads.` : "No leads yet: POST one to /leads."
            )
          )
      })
    keepingFocus(() => reconcile($("leads").tBodies[0], items))
  }

  /** What a replay means now: it runs at once only when the breaker is known to be closed. */
  const replayedText = (id) => {
    const lead = `Lead ${id.slice(0, 8)} queued again`
    const open = openBreakers(lastState)
    if (open.length > 0)
      return (
        `${lead}, but ${notClosed(open)}: if it needs that service, it waits and runs once the breaker lets calls ` +
        "through again."
      )
    if (!lastState || lastState.breakers === null || lastState.breakerSource === "consumer")
      return `${lead}; a consumer runs it (unless a circuit breaker it needs is open there: see the breaker card).`
    return `${lead}; it runs now.`
  }

  const replaying = new Set()
  const replay = async (id, button) => {
    if (replaying.has(id)) return
    replaying.add(id)
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus to the page
    button.setAttribute("aria-disabled", "true")
    let text
    try {
      const { status, body } = await api("POST", `/leads/${encodeURIComponent(id)}/replay`, REPLAY_DEADLINE_MS)
      text = status === 202 ? replayedText(id) : `Replay refused: ${body.detail || status}`
    } catch (error) {
      text =
        error instanceof NoAnswer
          ? `Replay of lead ${id.slice(0, 8)}: ${error.message}. It may still be done: the lists show it once the ` +
            "ingest answers."
          : `Replay failed: ${error.message}`
    } finally {
      replaying.delete(id)
      button.removeAttribute("aria-disabled")
    }
    $("replay-message").textContent = text
    replayNotes.set(id, text)
    if (id === selected) drawSelected()
    await refresh()
  }

  /** The Replay button of a dead-lettered lead; `place` keeps its focus key apart from the other button of the lead. */
  const replayButton = (id, place) =>
    el(
      "button",
      {
        type: "button",
        "data-focus": `${place}:${id}`,
        "aria-label": `Replay lead ${id.slice(0, 8)}`,
        onclick: (event) => replay(id, event.currentTarget)
      },
      "Replay"
    )

  /** Under the dead letters: how many there are when the list does not hold them all, and where the rest are. */
  const renderDeadLetterCount = () => {
    const node = $("dead-letters-more")
    const total = lastState?.leads ? lastState.leads.FAILED : undefined
    const upTo = lastState?.leadsCountedUpTo
    let text = ""
    if (deadListed !== undefined && deadListed >= DEAD_LETTERS_LISTED) {
      if (total === undefined || total === null) text = `The oldest ${deadListed} dead letters; there may be more.`
      else if (total > deadListed)
        text = `The oldest ${deadListed} of ${
          upTo !== undefined && total >= upTo ? `${upTo.toLocaleString("en-US")}+` : total.toLocaleString("en-US")
        } dead letters.`
    }
    node.hidden = text === ""
    if (text === "") return
    if ($("dead-letters-count").textContent !== text) $("dead-letters-count").textContent = text
  }

  const renderDeadLetters = (deadLetters) => {
    const items = deadLetters.map((dead) => ({
      key: dead.id,
      data: dead,
      build: () =>
        el(
          "tr",
          { "data-dead-letter": dead.id },
          el(
            "td",
            {},
            el(
              "a",
              {
                href: `#/leads/${dead.id}`,
                "data-focus": `dead:${dead.id}`,
                "aria-label": `Open lead ${dead.id.slice(0, 8)}`,
                title: dead.id
              },
              el("code", {}, dead.id.slice(0, 8))
            )
          ),
          el("td", {}, dead.email),
          el("td", {}, dead.error),
          el("td", {}, ageOf(dead.failedAt)),
          el("td", {}, replayButton(dead.id, "replay"))
        )
    }))
    if (items.length === 0)
      items.push({
        key: "none",
        data: "none",
        build: () => el("tr", {}, el("td", { colspan: 5, class: "hint" }, "No dead letters."))
      })
    keepingFocus(() => reconcile($("dead-letters").tBodies[0], items))
    deadListed = deadLetters.length
    renderDeadLetterCount()
  }

  const json = (value) => el("pre", {}, JSON.stringify(value, null, 2))

  const renderDetail = (lead) => {
    const analysis = lead.grounding ? lead.grounding.analysis : lead.analysis
    const note = replayNotes.get(lead.id)
    const parts = [
      el("h2", { id: "detail-heading", tabindex: -1 }, "Lead ", el("code", {}, lead.id)),
      el(
        "p",
        {},
        badge(lead.status),
        ` ${lead.source} · received `,
        ageOf(lead.createdAt),
        " · updated ",
        ageOf(lead.updatedAt)
      ),
      lead.error ? el("p", { "data-lead-error": true }, `Reason: ${lead.error}`) : undefined,
      // a FAILED lead is replayed from here too: the dead-letter list holds only the oldest
      lead.status === "FAILED"
        ? el("p", { "data-focus-group": "detail-heading" }, replayButton(lead.id, "detail-replay"))
        : undefined,
      note ? el("p", { "data-replay-note": true }, note) : undefined,
      el("h2", {}, "Input (PII masked)"),
      json(lead.input)
    ]
    if (analysis) {
      parts.push(
        el("h2", {}, "Analysis"),
        el("p", {}, `Fit ${analysis.fitScore} · ${analysis.intent} · ${analysis.decision}`),
        el("p", {}, analysis.reasoning),
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el("tr", {}, el("th", {}, "claim"), el("th", {}, "source"), el("th", {}, "field"), el("th", {}, "value"))
          ),
          el(
            "tbody",
            {},
            analysis.evidence.map((e) =>
              el(
                "tr",
                {},
                el("td", {}, e.claimType),
                el("td", {}, e.source),
                el("td", {}, e.fieldPath),
                el("td", {}, JSON.stringify(e.value))
              )
            )
          )
        )
      )
    }
    if (lead.grounding) {
      parts.push(
        el("h2", {}, "Grounding"),
        el("p", { "data-grounding": lead.grounding.outcome }, badge(lead.grounding.outcome)),
        lead.grounding.reasons.length > 0
          ? el(
              "ul",
              {},
              lead.grounding.reasons.map((r) => el("li", {}, r))
            )
          : el("p", { class: "hint" }, "No reasons: every claim is backed by evidence.")
      )
    }
    parts.push(el("h2", {}, `CRM actions (${lead.actions.length})`))
    if (lead.actions.length === 0) parts.push(el("p", { class: "hint" }, "None yet."))
    else
      parts.push(
        el(
          "table",
          { id: "actions" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", {}, "tool"),
              el("th", {}, "status"),
              el("th", {}, "CRM id"),
              el("th", {}, "time"),
              el("th", {}, "audit row")
            )
          ),
          el(
            "tbody",
            {},
            lead.actions.map((action) =>
              el(
                "tr",
                { "data-action": action.tool },
                el("td", {}, action.tool, el("br"), el("small", {}, action.provider)),
                el("td", {}, badge(action.status), action.error ? el("div", {}, action.error) : undefined),
                el("td", {}, action.crmId || ""),
                el("td", {}, `${action.durationMs} ms`),
                el(
                  "td",
                  {},
                  el(
                    "details",
                    { "data-open-key": action.id },
                    el(
                      "summary",
                      { "data-focus": `action:${action.id}` },
                      el("code", {}, action.actionKey.slice(0, 12))
                    ),
                    json({ params: action.params, result: action.result })
                  )
                )
              )
            )
          )
        )
      )
    showDetail([lead, note], parts.filter(Boolean))
  }

  /** Replaces the detail only when what it shows changed, keeping open audit rows open and the focus where it was. */
  const showDetail = (data, parts) => {
    const detail = $("detail")
    if (unchanged(detail, data)) return
    const open = new Set(
      [...detail.querySelectorAll("details[open][data-open-key]")].map((node) => node.getAttribute("data-open-key"))
    )
    keepingFocus(() => detail.replaceChildren(...parts))
    for (const node of detail.querySelectorAll("details[data-open-key]"))
      if (open.has(node.getAttribute("data-open-key"))) node.open = true
  }

  /** The selected lead's view, from its last answer (redrawn when a replay note for it changes). */
  let selectedAnswer
  const drawSelected = () => {
    if (!selectedAnswer || selectedAnswer.id !== selected) return
    if (selectedAnswer.status === 200) renderDetail(selectedAnswer.body)
    else {
      const text = selectedAnswer.body.detail || `No lead ${selected}`
      showDetail(text, [el("p", { class: "hint", "data-lead-missing": true }, text)])
    }
  }

  const select = (id) => {
    selected = id
    history.replaceState(null, "", `#/leads/${encodeURIComponent(id)}`)
    refresh()
  }

  const leadsPath = () => {
    const query = new URLSearchParams({ limit: "50" })
    if (leadPages.status) query.set("status", leadPages.status)
    if (leadPages.after) query.set("after", leadPages.after)
    return `/leads?${query}`
  }
  /**
   * Shows another page or filter of the lead list. Until its answer comes, Older is off: the `next` known is the
   * previous page's, and following it would skip the newest leads of the new filter.
   */
  const showLeadPage = (after) => {
    leadPages.after = after
    leadPages.next = undefined
    $("leads-older").disabled = true
    $("leads-newest").disabled = after === undefined
    refresh()
  }

  /** One refresh: the parts are asked for at once, and each is drawn when it answers. */
  const refreshOnce = async () => {
    if (needsKey) return
    const started = Date.now()
    const slow = setTimeout(() => {
      if ($("connection").getAttribute("data-state") !== "unavailable")
        showConnection("slow", `The ingest is slow to answer: still waiting after ${SLOW_MS / 1000} s.${asOf()}`)
    }, SLOW_MS)
    // a page asked for before the filter or page changed is not drawn: the refresh the change started draws its own
    const listed = leadsPath()
    const lead = selected
    const failures = []
    const part = (path, draw) =>
      api("GET", path).then(draw, (error) => {
        if (error instanceof Unauthorized) throw error
        failures.push(error instanceof NoAnswer ? error.message : `${path.split("?")[0]}: ${error.message}`)
      })
    try {
      await Promise.all([
        part("/ops/state", ({ status, body }) => {
          if (status === 200) renderState(body)
        }),
        part(listed, ({ status, body }) => {
          if (listed !== leadsPath()) return
          if (status === 200) {
            leadPages.next = body.next
            renderLeads(body.leads)
            $("leads-older").disabled = leadPages.next === undefined
            $("leads-newest").disabled = leadPages.after === undefined
          }
          showError(status === 200 ? "" : body.detail || `GET /leads answered ${status}`)
        }),
        part(`/dead-letters?limit=${DEAD_LETTERS_LISTED}`, ({ status, body }) => {
          if (status === 200) renderDeadLetters(body.deadLetters)
        }),
        lead &&
          part(`/leads/${encodeURIComponent(lead)}/audit`, (answer) => {
            if (lead !== selected) return
            selectedAnswer = { id: lead, ...answer }
            drawSelected()
          })
      ])
      refreshAges()
      if (failures.length === 0) {
        lastUpdated = new Date()
        // a slow answer stays said until a refresh is quick again (not a notice that comes and goes every refresh)
        const took = lastUpdated.getTime() - started
        if (took < SLOW_MS) showConnection("ok", "")
        else
          showConnection(
            "slow",
            `The ingest is slow to answer: the last refresh took ${Math.round(took / 1000)} s.${asOf()}`
          )
      } else
        showConnection(
          "unavailable",
          `The ingest is unavailable (${failures.join("; ")}).${asOf()} Trying again every ${REFRESH_MS / 1000} s.`
        )
    } catch (error) {
      if (!(error instanceof Unauthorized)) throw error
      needsKey = true
      $("key-form").hidden = false
      $("key-message").textContent = apiKey ? "That key was refused." : "This server requires an API key."
    } finally {
      clearTimeout(slow)
    }
  }

  /** The refresh running, if one is; one asked for meanwhile runs once it settles (never two at once). */
  let running
  let again = false
  let timer
  const refresh = () => {
    if (running) {
      again = true
      return running
    }
    clearTimeout(timer)
    running = refreshOnce()
      .catch((error) => showConnection("unavailable", `The console failed to refresh: ${error.message}.${asOf()}`))
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          refresh()
        } else if (!needsKey) timer = setTimeout(refresh, REFRESH_MS)
      })
    return running
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault()
    apiKey = $("key").value.trim() || undefined
    if (apiKey) sessionStorage.setItem(KEY_STORAGE, apiKey)
    needsKey = false
    $("key-form").hidden = true
    refresh()
  })
  $("lead-status").addEventListener("change", (event) => {
    leadPages.status = event.target.value
    showLeadPage(undefined)
  })
  $("leads-filter").addEventListener("submit", (event) => event.preventDefault())
  $("leads-older").addEventListener("click", () => {
    if (leadPages.next) showLeadPage(leadPages.next)
  })
  $("leads-newest").addEventListener("click", () => showLeadPage(undefined))
  $("dead-letters-failed").addEventListener("click", () => {
    $("lead-status").value = "FAILED"
    leadPages.status = "FAILED"
    showLeadPage(undefined)
    $("leads-heading").focus()
  })
  $("open-form").addEventListener("submit", (event) => {
    event.preventDefault()
    const id = $("open-id").value.trim()
    if (id) select(id)
  })
  window.addEventListener("hashchange", () => {
    const id = hashLead()
    if (id && id !== selected) select(id)
  })

  refresh()
})()
