#!/usr/bin/env bash
# soak.sh: build the product and the soak tool, start the product on
# loopback with its diagnostics listener, run mcpsoak against it, and stop
# the product whatever happens.
#
#   bench/soak.sh                 # 10 minutes (the issue's soak)
#   bench/soak.sh -d 1m           # shorter; any mcpsoak flag may follow
#
# The product runs with no WorkOS credentials, so it mounts its AuthKit
# emulator and mcpsoak signs in as ada@example.com and grace@example.com
# through the real OAuth flow. Its store lives in a fresh temporary
# directory. Output goes to stdout and to bench/bin/results/ (or $OUT);
# the exit status is mcpsoak's (non-zero on any error or upward trend).
# SOAK_PORT and SOAK_DEBUG_PORT (default 18950, 18951) move the listeners.
set -euo pipefail
# $OUT, when given, is relative to where the script was called from.
[ -n "${OUT:-}" ] && case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
cd "$(dirname "$0")"
HERE=$(pwd)
PORT=${SOAK_PORT:-18950} DPORT=${SOAK_DEBUG_PORT:-18951}
OUT=${OUT:-$HERE/bin/results/$(date -u +%Y%m%dT%H%M%SZ)-soak}
mkdir -p "$HERE/bin" "$OUT"
DATA=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "soak.sh: $*" >&2; }

log "building into bench/bin/"
go build -o bin/ ./cmd/mcpsoak
(cd .. && go build -o bench/bin/product .)

bin/product -addr "127.0.0.1:$PORT" -data-dir "$DATA" -debug-addr "127.0.0.1:$DPORT" >"$OUT/product.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
	kill -0 "$PID" 2>/dev/null || { log "the product exited: $(tail -3 "$OUT/product.log")"; exit 1; }
	(echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && (echo >"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break
	sleep 0.1
done
log "product pid $PID on 127.0.0.1:$PORT (diagnostics :$DPORT); results in $OUT"
# mcpsoak bounds itself (-d plus five minutes); timeout is a second fence.
status=0
timeout 2h bin/mcpsoak -base "http://127.0.0.1:$PORT" -debug "http://127.0.0.1:$DPORT" -pid "$PID" "$@" \
	2> >(tee "$OUT/mcpsoak.err" >&2) | tee "$OUT/summary.txt" || status=$?
exit $status
