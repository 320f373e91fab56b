#!/usr/bin/env bash
# replicas.sh: the cost of running replicated (issue 13), measured, not
# guessed. In one run, with the same load, alternately:
#
#   single   the root binary, one process, the file store (-data-dir)
#   cluster  two replicas (replicas/cmd/replica) on PostgreSQL behind
#            haproxy, round robin, no stickiness
#
# mcpload signs in through each (the emulator's sign-in page), opens one
# Streamable HTTP session per worker and calls tools/call add; each answer
# is checked. Prints each round and the medians.
#
#   DATABASE_URL=postgres://... bench/replicas.sh            # 3 rounds of 5 s, 50 workers
#   DATABASE_URL=... bench/replicas.sh -d 10s -rounds 5 -c 20
#
# Needs DATABASE_URL (a PostgreSQL it may write to; .ci/replicas.sh shows
# how to start a private one) and haproxy. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"
DUR=5s WARM=1s C=50 ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR=$2; shift 2 ;;
    -warmup) WARM=$2; shift 2 ;;
    -c) C=$2; shift 2 ;;
    -rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL this may write to}"
command -v haproxy >/dev/null || { echo "haproxy not found" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitready() { for _ in $(seq 200); do curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 not ready" >&2; return 1; }

go build -o "$tmp/mcpload" ./cmd/mcpload
(cd .. && go build -o "$tmp/single" .)
(cd ../replicas && go build -o "$tmp/replica" ./cmd/replica)

secret=$(head -c 32 /dev/urandom | base64)
ps=$(freeport); lb=$(freeport); r0=$(freeport); r1=$(freeport)
"$tmp/single" -addr 127.0.0.1:$ps -data-dir "$tmp/data" >"$tmp/single.log" 2>&1 & pids+=($!)
for p in $r0 $r1; do
  DATABASE_URL=$DATABASE_URL SERVER_SECRET=$secret "$tmp/replica" -addr 127.0.0.1:$p -base-url http://127.0.0.1:$lb >"$tmp/r$p.log" 2>&1 & pids+=($!)
done
cat >"$tmp/haproxy.cfg" <<CFG
global
	maxconn 4000
defaults
	mode http
	timeout connect 1s
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch
	option http-keep-alive
frontend fe
	bind 127.0.0.1:$lb
	default_backend replicas
backend replicas
	balance roundrobin
	option httpchk GET /readyz
	server r0 127.0.0.1:$r0 check inter 1s
	server r1 127.0.0.1:$r1 check inter 1s
CFG
haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 & pids+=($!)
waitready http://127.0.0.1:$ps; waitready http://127.0.0.1:$r0; waitready http://127.0.0.1:$r1; waitready http://127.0.0.1:$lb

run() { # name base
  "$tmp/mcpload" -url "$2/mcp" -signin "$2" -c "$C" -d "$DUR" -warmup "$WARM" -q -json >"$tmp/out.json"
  python3 - "$1" "$tmp/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
errs = sum(r.get("errors", {}).values()) + sum(r.get("setup_errors", {}).values())
print(f"{sys.argv[1]} {r['rps']:.0f} {r['latency']['p99_ms']:.2f} {errs}")
PY
}
results=()
for i in $(seq "$ROUNDS"); do
  order="single cluster"; [ $((i % 2)) -eq 0 ] && order="cluster single"
  for s in $order; do
    base=http://127.0.0.1:$ps; [ $s = cluster ] && base=http://127.0.0.1:$lb
    line=$(run $s $base); echo "round $i: $line (name req/s p99_ms errors)"; results+=("$line")
  done
done
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
rows = {}
for l in sys.stdin:
    n, rps, p99, e = l.split(); rows.setdefault(n, []).append((float(rps), float(p99), int(e)))
s = statistics.median(r[0] for r in rows["single"])
print("| server | median req/s | median p99 ms | errors | vs single |")
print("|---|---:|---:|---:|---:|")
for n, label in (("single", "one process, file store"), ("cluster", "2 replicas on PostgreSQL behind haproxy")):
    v = rows[n]; m = statistics.median(r[0] for r in v)
    print(f"| {label} | {m:.0f} | {statistics.median(r[1] for r in v):.2f} | {sum(r[2] for r in v)} | {m/s:.2f} |")
'
