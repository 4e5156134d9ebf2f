#!/bin/sh
# The image's entrypoint (run under tini): `docker run <image> ingest|consumer|cli [args]` starts that program's bundle;
# anything else runs as a command (e.g. `docker run -it <image> sh`).
set -eu

program="${1:-ingest}"
[ "$#" -gt 0 ] && shift

case "$program" in
  ingest | consumer | cli)
    exec node "/app/dist/$program/index.mjs" "$@"
    ;;
  help | -h | --help)
    echo "usage: docker run <image> ingest | consumer | cli <command> [args]"
    exit 0
    ;;
  *)
    exec "$program" "$@"
    ;;
esac
