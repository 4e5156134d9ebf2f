# syntax=docker/dockerfile:1.7
# One image, two programs: `docker run <image> ingest` (HTTP API, PORT 3000) or `docker run <image> consumer`
# (worker, metrics on METRICS_PORT 9464); `docker run <image> cli <command>` for migrate / replay / stats.
# The runtime holds only the esbuild bundles (and each long-running program's native/mallocTrim.node, built in the
# build stage): no node_modules, no sources, no compiler.

ARG NODE_IMAGE=node:24-slim

# ---- build: install with the lockfile, bundle the programs
FROM ${NODE_IMAGE} AS build
# a C compiler for the programs' one native addon (native/mallocTrim.node: glibc's malloc_trim for the memory release,
# scripts/build/native.mjs); the build stage only, the runtime gets the built file
RUN apt-get update \
  && apt-get install -y --no-install-recommends gcc libc6-dev \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# The lockfile names the infra/ workspace (the CDK app): its package.json keeps tree and lockfile in step, and
# --workspaces=false installs the root's packages only (no CDK in the build)
COPY infra/package.json ./infra/
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund --workspaces=false
COPY tsconfig.json tsconfig.build.json ./
COPY services ./services
COPY layers ./layers
COPY src ./src
COPY scripts/build ./scripts/build
# the build's warm-up start takes its environment from here (test/ops/compose.test.ts follows the build's imports)
COPY scripts/ops/runtimeEnv.mjs ./scripts/ops/
# bundles only: the library build (dist/lib) is for npm, not for the image; the addon must be there
RUN npm run build:bundles \
  && test -f dist/ingest/native/mallocTrim.node && test -f dist/consumer/native/mallocTrim.node

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (graceful drain) and reaps zombies
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*

# MALLOC_ARENA_MAX=1: one glibc malloc arena instead of one per allocating thread (up to 8 per core), each keeping
# what was freed in it: less idle RSS and less left after a burst, CPU per request unchanged (docs/performance-log.md).
# scripts/ops/runtimeEnv.mjs holds the same value, for the benchmarks.
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/.cache/node \
    MALLOC_ARENA_MAX=1 \
    HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_PORT=9464 \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=build --chown=node:node /src/dist/ingest ./dist/ingest
COPY --from=build --chown=node:node /src/dist/consumer ./dist/consumer
COPY --from=build --chown=node:node /src/dist/cli ./dist/cli
COPY --chmod=0755 scripts/ops/docker-entrypoint.sh /usr/local/bin/revenueflow
RUN mkdir -p /app/.cache/node && chown -R node:node /app/.cache

USER node
# Warm V8's compile cache for this exact node binary and bundle. The ingest and the consumer each start once against
# a Postgres and a Redis that refuse the connection (port 9): a start loads every chunk a real start loads (the
# Postgres driver, BullMQ and ioredis are lazy chunks imported once the configuration is read), then exits at the
# failed connection. The CLI exits at config validation (invalid PORT). scripts/bench/coldstart.mjs warms its
# "+ NODE_COMPILE_CACHE" runs the same way. The build compiled the functions such a start calls eagerly
# (scripts/build/eager.mjs), so the cache holds them too, not only each module's top level.
RUN for program in ingest consumer; do \
      DATABASE_URL=postgres://warm@127.0.0.1:9/warm REDIS_URL=redis://127.0.0.1:9 \
        timeout 60 node "dist/$program/index.mjs" >/dev/null 2>&1 || true; \
    done \
  && (PORT=invalid METRICS_PORT=invalid timeout 60 node dist/cli/index.mjs >/dev/null 2>&1 || true)

EXPOSE 3000 9464
# /healthz on the ingest's PORT, else on the consumer's METRICS_PORT (each program serves one of them)
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "const get = (p) => fetch('http://127.0.0.1:' + p + '/healthz', { signal: AbortSignal.timeout(3000) }).then((r) => { if (!r.ok) throw new Error(String(r.status)) }); get(process.env.PORT || 3000).catch(() => get(process.env.METRICS_PORT || 9464)).then(() => process.exit(0), () => process.exit(1))"

ENTRYPOINT ["/usr/bin/tini", "--", "revenueflow"]
CMD ["ingest"]
