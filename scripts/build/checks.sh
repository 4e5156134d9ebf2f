# Shared by smoke.sh and image.sh (sourced, not run): what both checks do to a running ingest + consumer.
# The sourcing script sets CHECK_NAME (log prefix), WORK (where each program logs to <name>.log), LOGS (the
# programs whose logs a failure shows), NODE (a node binary), TIMEOUT_S and SUFFIX.

log() { printf '[%s] %s\n' "$CHECK_NAME" "$*" >&2; }

# Stop the check, showing the end of each program's log.
fail() {
  log "FAIL: $*"
  local name
  for name in "${LOGS[@]}"; do
    [[ -s "$WORK/$name.log" ]] && { log "--- $name log (last 30 lines)"; tail -n 30 "$WORK/$name.log" >&2; }
  done
  exit 1
}

free_port() { "$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# wait_ready NAME URL PID: until URL answers 2xx; fails when PID has exited or after TIMEOUT_S.
wait_ready() {
  local name="$1" url="$2" pid="$3" deadline=$((SECONDS + TIMEOUT_S))
  until curl -fs -o /dev/null "$url"; do
    kill -0 "$pid" 2>/dev/null || fail "$name exited before it was ready"
    ((SECONDS < deadline)) || fail "$name not ready at $url after ${TIMEOUT_S}s"
    sleep 0.1
  done
  log "$name ready ($url)"
}

# follow_lead BASE_URL [CURL_ARGS...]: POST a lead (202), then poll it until SYNCED; sets LEAD_ID and LEAD.
follow_lead() {
  local base="$1" response status lead_status deadline
  shift
  local body='{"email":"'"$CHECK_NAME"'-'"$SUFFIX"'@globex.com","campaignId":"'"$CHECK_NAME"'","firstName":"Ada","lastName":"Lovelace","title":"VP Engineering","activity":{"demoRequested":true,"pricingPageVisits":3,"pageViews":14}}'
  response="$(curl -sS -w '\n%{http_code}' "$@" -H 'content-type: application/json' -d "$body" "$base/leads")"
  status="$(tail -n1 <<<"$response")"
  [[ "$status" == "202" ]] || fail "POST /leads answered $status: $(head -n1 <<<"$response")"
  LEAD_ID="$(head -n1 <<<"$response" | jq -r .id)"
  log "lead $LEAD_ID accepted (202)"
  deadline=$((SECONDS + TIMEOUT_S))
  while :; do
    LEAD="$(curl -fsS "$@" "$base/leads/$LEAD_ID")" || fail "GET /leads/$LEAD_ID failed"
    lead_status="$(jq -r .status <<<"$LEAD")"
    [[ "$lead_status" == "SYNCED" ]] && break
    [[ "$lead_status" == "FAILED" || "$lead_status" == "REJECTED" ]] && fail "lead ended $lead_status: $LEAD"
    ((SECONDS < deadline)) || fail "lead still $lead_status after ${TIMEOUT_S}s"
    sleep 0.2
  done
  log "lead SYNCED with $(jq '.actions | length' <<<"$LEAD") CRM actions"
}
