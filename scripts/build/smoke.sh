#!/usr/bin/env bash
# Smoke test of the production bundles with NO node_modules: copies dist/ingest and dist/consumer into an empty temp
# dir, runs both against the real Postgres (fresh schema) and Redis (fresh key prefix), POSTs a lead, waits until
# GET /leads/:id says SYNCED, then SIGTERMs both and checks they exit 0 in time. Cleans up everything it made.
# First, each bundle started without DATABASE_URL must say that the bundles need it and exit 1. As in the image, both
# run with NODE_COMPILE_CACHE: that first start writes Node's compile cache, the real starts run from it and add the
# modules the first did not load (checked at the end).
#
#   npm run build && scripts/build/smoke.sh
# Env: SMOKE_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), SMOKE_REDIS_URL (redis://127.0.0.1:6379),
#      SMOKE_TIMEOUT_S (60), SMOKE_EXIT_TIMEOUT_S (15), SMOKE_NODE (node_modules/.bin/node: the project's Node 24).
#      Not NODE: npm sets that to the Node running npm itself (the machine's), for every script it runs.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="${SMOKE_NODE:-$ROOT/node_modules/.bin/node}"
DATABASE_URL="${SMOKE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
REDIS_URL="${SMOKE_REDIS_URL:-redis://127.0.0.1:6379}"
TIMEOUT_S="${SMOKE_TIMEOUT_S:-60}"
EXIT_TIMEOUT_S="${SMOKE_EXIT_TIMEOUT_S:-15}"
SUFFIX="$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
SCHEMA="smoke_${SUFFIX}"
PREFIX="rf-smoke-${SUFFIX}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rf-smoke.XXXXXX")"
PIDS=()

CHECK_NAME=smoke LOGS=(ingest consumer cli)
# shellcheck source=scripts/build/checks.sh
source "$ROOT/scripts/build/checks.sh"

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  psql "$DATABASE_URL" -qAt -c "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}:*" 2>/dev/null |
    xargs -r -n 500 redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# a command that fails outside `fail` (set -e; -E: inside functions too) names itself, so a failed run says where it stopped
trap 'log "FAIL: line $LINENO exited $?: $BASH_COMMAND"' ERR

# ---- 1. the bundles, alone in an empty directory (no node_modules anywhere above it)
for name in ingest consumer cli; do
  [[ -f "$ROOT/dist/$name/index.mjs" ]] || fail "dist/$name/index.mjs is missing: run npm run build first"
  cp -R "$ROOT/dist/$name" "$WORK/$name"
done
d="$WORK"
while [[ "$d" != "/" ]]; do
  [[ -e "$d/node_modules" ]] && fail "$d/node_modules exists: the bundles would not run alone"
  d="$(dirname "$d")"
done
# ---- 1b. without DATABASE_URL a bundle (it carries no embedded database) says it needs one and exits 1
for name in ingest consumer; do
  code=0
  out="$(cd "$WORK/$name" && env -i PATH="$PATH" HOME="$WORK" PORT=0 METRICS_PORT=0 NODE_COMPILE_CACHE="$WORK/cache" \
    timeout 60 "$NODE" index.mjs 2>&1)" || code=$?
  [[ "$code" == "1" ]] || fail "$name without DATABASE_URL exited $code, not 1: $out"
  grep -qF "DATABASE_URL: is required: the bundles run on Postgres; the embedded database is for npm start" <<<"$out" ||
    fail "$name without DATABASE_URL did not say that the bundles need it: $out"
done
log "without DATABASE_URL both bundles say it is required and exit 1"
FIRST_CACHE=$(find "$WORK/cache" -type f -size +0 2>/dev/null | wc -l)
((FIRST_CACHE > 0)) || fail "the first starts wrote no compile cache in $WORK/cache"

command -v psql >/dev/null || fail "psql is needed"
command -v redis-cli >/dev/null || fail "redis-cli is needed"

psql "$DATABASE_URL" -qAt -c "CREATE SCHEMA \"$SCHEMA\"" >/dev/null || fail "cannot create schema $SCHEMA"
INGEST_PORT="$(free_port)"
METRICS_PORT="$(free_port)"
log "schema $SCHEMA, redis prefix $PREFIX, ingest :$INGEST_PORT, consumer metrics :$METRICS_PORT"

# ---- 2. start both programs (cwd = their own dir, so nothing resolves from the repository)
start() {
  local name="$1"
  shift
  (cd "$WORK/$name" && exec env -i PATH="$PATH" HOME="$WORK" \
    DATABASE_URL="$DATABASE_URL" DATABASE_SCHEMA="$SCHEMA" REDIS_URL="$REDIS_URL" REDIS_KEY_PREFIX="$PREFIX" \
    HOST=127.0.0.1 PORT="$INGEST_PORT" METRICS_PORT="$METRICS_PORT" LOG_LEVEL=info SWEEP_MIN_AGE_MS=1000 \
    NODE_COMPILE_CACHE="$WORK/cache" \
    "$@" "$NODE" index.mjs >"$WORK/$name.log" 2>&1) &
  PIDS+=("$!")
  log "started $name (pid $!)"
}
# the memory release after 1 s of quiet, at debug: it says what glibc's malloc_trim (the bundle's native addon) did
start ingest LOG_LEVEL=debug MEMORY_RELEASE_QUIET_MS=1000
INGEST_PID="${PIDS[0]}"
start consumer LOG_LEVEL=debug MEMORY_RELEASE_QUIET_MS=1000
CONSUMER_PID="${PIDS[1]}"

wait_ready ingest "http://127.0.0.1:$INGEST_PORT/readyz" "$INGEST_PID"
wait_ready consumer "http://127.0.0.1:$METRICS_PORT/readyz" "$CONSUMER_PID"

# ---- 3. the docs page and the console are served from the bundle's own files (no node_modules, no CDN)
for path in /docs /docs/assets/swagger-ui-bundle.js /docs/assets/swagger-ui.css /console /console/console.js; do
  curl -fsS -o /dev/null "http://127.0.0.1:$INGEST_PORT$path" || fail "GET $path failed"
done
log "/docs and /console served with their assets"

# ---- 4. a lead goes all the way through
follow_lead "http://127.0.0.1:$INGEST_PORT"
METRICS="$(curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics")" || fail "consumer /metrics failed"
grep -q '^revenueflow_leads_finished_total{status="SYNCED"} 1$' <<<"$METRICS" ||
  fail "consumer /metrics does not count the SYNCED lead"

# ---- 4b. MCP: /mcp on the ingest bundle (its lazy SDK chunk), and `revenueflow mcp` on stdio from the CLI bundle
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"smoke","version":"1"}}}'
MCP_HTTP="$(curl -sS -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
  -d "$INIT" "http://127.0.0.1:$INGEST_PORT/mcp")" || fail "POST /mcp failed"
[[ "$(jq -r .result.serverInfo.name <<<"$MCP_HTTP")" == "revenueflow" ]] || fail "POST /mcp answered: $MCP_HTTP"
log "ingest /mcp answers initialize"
FIND='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"find_lead","arguments":{"email":"smoke-'"$SUFFIX"'@globex.com","campaignId":"smoke"}}}'
# a tiny MCP host: start the server, send initialize + one call, close stdin once the call is answered
MCP_STDIO="$(cd "$WORK/cli" && env -i PATH="$PATH" HOME="$WORK" INIT="$INIT" FIND="$FIND" TIMEOUT_MS="$((TIMEOUT_S * 1000))" \
  DATABASE_URL="$DATABASE_URL" DATABASE_SCHEMA="$SCHEMA" REDIS_URL="$REDIS_URL" REDIS_KEY_PREFIX="$PREFIX" \
  "$NODE" -e '
const child = require("node:child_process").spawn(process.execPath, ["index.mjs", "mcp"], { stdio: ["pipe", "pipe", "inherit"] })
const timer = setTimeout(() => { console.error("no answer in time"); child.kill("SIGKILL"); process.exit(1) }, Number(process.env.TIMEOUT_MS))
let buffer = ""
child.stdout.on("data", (chunk) => {
  buffer += chunk
  const lines = buffer.split("\n")
  buffer = lines.pop()
  for (const line of lines) if (JSON.parse(line).id === 2) { console.log(line); child.stdin.end() }
})
child.on("exit", (code) => { clearTimeout(timer); process.exit(code ?? 1) })
const initialized = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })
child.stdin.write([process.env.INIT, initialized, process.env.FIND, ""].join("\n"))
' 2>"$WORK/cli.log")" || fail "revenueflow mcp (CLI bundle) failed"
[[ "$(jq -r .result.structuredContent.id <<<"$MCP_STDIO")" == "$LEAD_ID" ]] || fail "revenueflow mcp find_lead answered: $MCP_STDIO"
log "revenueflow mcp (CLI bundle) on stdio finds the lead"

# ---- 4c. the memory release loads the native addon from beside the bundle (Linux with glibc, built with cc)
if [[ "$(uname -s)" == "Linux" ]] && getconf GNU_LIBC_VERSION >/dev/null 2>&1 && command -v "${CC:-cc}" >/dev/null; then
  for name in ingest consumer; do
    [[ -f "$WORK/$name/native/mallocTrim.node" ]] || fail "dist/$name/native/mallocTrim.node was not built"
    deadline=$((SECONDS + TIMEOUT_S))
    until grep -q 'released memory after a quiet spell' "$WORK/$name.log"; do
      ((SECONDS < deadline)) || fail "$name did not release memory after a quiet spell"
      sleep 0.2
    done
    line="$(grep -m1 'released memory after a quiet spell' "$WORK/$name.log")"
    grep -qE 'mallocTrim.{1,3}(returned memory|nothing to return)' <<<"$line" ||
      fail "$name released memory without the native addon: $line"
  done
  log "both bundles release memory with glibc's malloc_trim (native/mallocTrim.node)"
fi

# ---- 5. graceful shutdown: SIGTERM, exit 0 within EXIT_TIMEOUT_S
stop() {
  local name="$1" pid="$2" deadline=$((SECONDS + EXIT_TIMEOUT_S)) code
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "$name still running ${EXIT_TIMEOUT_S}s after SIGTERM"
    sleep 0.1
  done
  code=0
  wait "$pid" || code=$?
  [[ "$code" == "0" ]] || fail "$name exited with $code after SIGTERM"
  log "$name exited 0 after SIGTERM"
}
stop ingest "$INGEST_PID"
stop consumer "$CONSUMER_PID"
PIDS=()
# the real starts loaded chunks the first did not (the drivers, BullMQ, the pipeline): Node added them at exit
count=$(find "$WORK/cache" -type f -size +0 | wc -l)
((count > FIRST_CACHE)) || fail "compile cache: $count files after the real starts, $FIRST_CACHE after the first"
log "the compile cache the first starts wrote was used, and completed at exit ($FIRST_CACHE -> $count files)"
log "OK"
