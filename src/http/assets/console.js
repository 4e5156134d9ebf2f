// The RevenueFlow console: plain browser JavaScript, no build step. It reads the ingest's JSON routes (GET /leads,
// /leads/:id/audit, /dead-letters, /ops/state) and replays with POST /leads/:id/replay. Everything shown is set as
// text (never as HTML): lead fields are untrusted input.
;(() => {
  const REFRESH_MS = 2000
  const KEY_STORAGE = "revenueflow.apiKey"
  let selected = decodeURIComponent(location.hash.replace(/^#\/leads\//, "")) || undefined
  let apiKey = sessionStorage.getItem(KEY_STORAGE) || undefined
  let needsKey = false

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

  const definitions = (target, entries) => {
    target.replaceChildren(...entries.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]))
  }

  class Unauthorized extends Error {}

  const api = async (method, path) => {
    const headers = { accept: "application/json" }
    if (apiKey) headers["x-api-key"] = apiKey
    const response = await fetch(path, { method, headers })
    if (response.status === 401) throw new Unauthorized("an API key is required")
    const body = await response.json().catch(() => ({}))
    return { status: response.status, body }
  }

  const showError = (message) => {
    $("error").hidden = !message
    $("error").textContent = message || ""
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
    definitions($("counts"), state.leads === null ? [["store", "unavailable"]] : Object.entries(state.leads))
    definitions(
      $("breakers"),
      state.breakers.length === 0
        ? [["—", "none in this process"]]
        : state.breakers.map((b) => [b.name, badge(b.state)])
    )
    definitions(
      $("limits"),
      state.rateLimits.map((t) => [t.tier, `${t.limit} / ${Math.round(t.windowMs / 1000)}s ${t.scope}`])
    )
  }

  const renderLeads = (leads) => {
    const rows = leads.map((lead) =>
      el(
        "tr",
        {
          class: lead.id === selected ? "pick selected" : "pick",
          "data-lead": lead.id,
          onclick: () => select(lead.id)
        },
        el("td", {}, el("code", { title: lead.id }, lead.id.slice(0, 8))),
        el("td", {}, badge(lead.status)),
        el("td", {}, lead.email),
        el("td", {}, lead.company || ""),
        el("td", {}, lead.decision || ""),
        el("td", { title: lead.updatedAt }, age(lead.updatedAt))
      )
    )
    if (rows.length === 0)
      rows.push(el("tr", {}, el("td", { colspan: 6, class: "hint" }, "No leads yet: POST one to /leads.")))
    $("leads").tBodies[0].replaceChildren(...rows)
  }

  const replay = async (id, button) => {
    button.disabled = true
    try {
      const { status, body } = await api("POST", `/leads/${encodeURIComponent(id)}/replay`)
      $("replay-message").textContent =
        status === 202
          ? `Lead ${id.slice(0, 8)} queued again; it runs now.`
          : `Replay refused: ${body.detail || status}`
    } catch (error) {
      $("replay-message").textContent = `Replay failed: ${error.message}`
    }
    await refresh()
  }

  const renderDeadLetters = (deadLetters) => {
    const rows = deadLetters.map((dead) =>
      el(
        "tr",
        { "data-dead-letter": dead.id },
        el("td", {}, el("a", { href: `#/leads/${dead.id}` }, el("code", {}, dead.id.slice(0, 8)))),
        el("td", {}, dead.email),
        el("td", {}, dead.error),
        el("td", { title: dead.failedAt }, age(dead.failedAt)),
        el(
          "td",
          {},
          el("button", { type: "button", onclick: (event) => replay(dead.id, event.currentTarget) }, "Replay")
        )
      )
    )
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 5, class: "hint" }, "No dead letters.")))
    $("dead-letters").tBodies[0].replaceChildren(...rows)
  }

  const json = (value) => el("pre", {}, JSON.stringify(value, null, 2))

  const renderDetail = (lead) => {
    const analysis = lead.grounding ? lead.grounding.analysis : lead.analysis
    const parts = [
      el("h2", {}, "Lead ", el("code", {}, lead.id)),
      el(
        "p",
        {},
        badge(lead.status),
        ` ${lead.source} · received ${age(lead.createdAt)} · updated ${age(lead.updatedAt)}`
      ),
      lead.error ? el("p", { "data-lead-error": true }, `Reason: ${lead.error}`) : undefined,
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
                    {},
                    el("summary", {}, el("code", {}, action.actionKey.slice(0, 12))),
                    json({ params: action.params, result: action.result })
                  )
                )
              )
            )
          )
        )
      )
    $("detail").replaceChildren(...parts.filter(Boolean))
  }

  const select = (id) => {
    selected = id
    history.replaceState(null, "", `#/leads/${id}`)
    refresh()
  }

  const refresh = async () => {
    if (needsKey) return
    try {
      const [state, leads, dead] = await Promise.all([
        api("GET", "/ops/state"),
        api("GET", "/leads?limit=50"),
        api("GET", "/dead-letters?limit=50")
      ])
      renderState(state.body)
      if (leads.status === 200) renderLeads(leads.body.leads)
      if (dead.status === 200) renderDeadLetters(dead.body.deadLetters)
      if (selected) {
        const lead = await api("GET", `/leads/${encodeURIComponent(selected)}/audit`)
        if (lead.status === 200) renderDetail(lead.body)
        else $("detail").replaceChildren(el("p", { class: "hint" }, lead.body.detail || `No lead ${selected}`))
      }
      showError(leads.status === 200 ? "" : leads.body.detail || `GET /leads answered ${leads.status}`)
    } catch (error) {
      if (error instanceof Unauthorized) {
        needsKey = true
        $("key-form").hidden = false
        $("key-message").textContent = apiKey ? "That key was refused." : "This server requires an API key."
        return
      }
      showError(`Cannot reach the ingest: ${error.message}`)
    }
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault()
    apiKey = $("key").value.trim() || undefined
    if (apiKey) sessionStorage.setItem(KEY_STORAGE, apiKey)
    needsKey = false
    $("key-form").hidden = true
    refresh()
  })
  window.addEventListener("hashchange", () => {
    const id = decodeURIComponent(location.hash.replace(/^#\/leads\//, ""))
    if (id && id !== selected) select(id)
  })

  refresh()
  setInterval(refresh, REFRESH_MS)
})()
