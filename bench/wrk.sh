#!/usr/bin/env bash
# The same Streamable HTTP tools/call comparison as compare.sh, with wrk
# (Debian's package) as the load generator instead of mcpload. wrk is C and
# much lighter than a Go client, so on a small machine the servers get more
# of the CPU and their differences show more clearly; mcpload stays the tool
# that checks every answer (wrk only counts non-2xx responses).
#
# Usage: bench/wrk.sh [-d 5s] [-c 50] [-rounds 3] [-servers "bare ours ours-modern mcpgo gosdk"]
# (-servers "ours ours-modern" compares the two eras of the product alone,
# in tightly alternated rounds.)
# Everything listens on 127.0.0.1; servers are killed on exit.
set -euo pipefail
cd "$(dirname "$0")"
. ./wrklib.sh
dur=5s conns=50 rounds=3 only="bare ours ours-modern mcpgo gosdk"
while [ $# -gt 0 ]; do
	case "$1" in
	-d) dur="$2"; shift 2 ;;
	-c) conns="$2"; shift 2 ;;
	-rounds) rounds="$2"; shift 2 ;;
	-servers) only="$2"; shift 2 ;;
	*) echo "usage: $0 [-d 5s] [-c 50] [-rounds 3] [-servers LIST]" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

mkdir -p bin
for p in bare gosdk mcpgo; do go build -o "bin/$p" "./peers/$p"; done
go build -o bin/mcpload ./cmd/mcpload
(cd .. && go build -o bench/bin/product .)

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
# ours-modern is the same product and port as ours, called in the MCP
# 2026-07-28 era: no session, the version and capabilities in each
# request's _meta, the routing headers it requires.
declare -A PORT=([bare]=18910 [gosdk]=18911 [mcpgo]=18912 [ours]=18913 [ours-modern]=18913)
declare -A PID
for s in bare gosdk mcpgo; do
	"bin/$s" -addr "127.0.0.1:${PORT[$s]}" -max-lifetime 30m >/dev/null 2>&1 &
	pids+=($!)
	PID[$s]=$!
done
# wrk's connections all share one MCP session, so the product's bound on
# one session's requests in flight (16 by default, past it 429) is raised
# above the connection count: without it the legacy row would count fast
# 429s as answers.
bin/product -addr "127.0.0.1:${PORT[ours]}" -memory -max-requests-per-session 1024 >/dev/null 2>&1 &
pids+=($!)
PID[ours]=$! PID[ours-modern]=$!
sleep 1

tmp=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
token=$(bin/mcpload -signin "http://127.0.0.1:${PORT[ours]}" -print-token -q)

# session SERVER: initialize + initialized, then write wrk's script for a
# tools/call add on that session.
# modern: wrk's script for a stateless 2026-07-28 tools/call add.
modern() {
	{
		echo 'local n, threads = 0, 0'
		echo 'function setup(thread) threads = threads + 1; thread:set("tid", threads) end'
		# The body's constant part is joined once, so that each request
		# costs wrk what a legacy one does (one %d formatted): wrk shares
		# the machine's cores with the server, and formatting the _meta
		# into every request cost it 1 to 3 us more per request, which
		# showed as the server's throughput.
		echo 'local meta = [["_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}]]'
		echo 'local body = [[{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},]] .. meta .. [[}}]]'
		echo 'function request() n = n + 1; return wrk.format(nil, nil, nil, string.format(body, tid * 1000000000 + n)) end'
		echo 'wrk.method = "POST"'
		echo 'wrk.headers["Content-Type"] = "application/json"'
		echo 'wrk.headers["Accept"] = "application/json, text/event-stream"'
		echo 'wrk.headers["MCP-Protocol-Version"] = "2026-07-28"'
		echo 'wrk.headers["Mcp-Method"] = "tools/call"'
		echo 'wrk.headers["Mcp-Name"] = "add"'
		echo "wrk.headers[\"Authorization\"] = \"Bearer $token\""
		wrk_done
	} >"$tmp/ours-modern.lua"
}

session() {
	local tok=""
	[ "$1" = ours ] && tok=$token
	wrk_session "http://127.0.0.1:${PORT[$1]}/mcp" "$tok" "$tmp/$1.lua"
}
read -r -a servers <<<"$only"
for s in bare ours mcpgo gosdk; do session "$s"; done
modern

# The server's CPU (user + system, from /proc) over a run, per request:
# steadier than req/s on a machine shared with other work, and free of the
# load generator's own cost.
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
declare -A RPS CPU
for r in $(seq "$rounds"); do
	k=$((r % ${#servers[@]}))
	order=("${servers[@]:k}" "${servers[@]:0:k}")
	for s in "${order[@]}"; do
		# A second of warm-up first: whichever server ran second in a round
		# used to measure faster, whatever it was.
		wrk -t2 -c"$conns" -d1s -s "$tmp/$s.lua" "http://127.0.0.1:${PORT[$s]}/mcp" >/dev/null
		c0=$(cpu "${PID[$s]}")
		line=$(wrk -t2 -c"$conns" -d"$dur" -s "$tmp/$s.lua" "http://127.0.0.1:${PORT[$s]}/mcp" | grep '^RESULT')
		c1=$(cpu "${PID[$s]}")
		read -r _ n errs us p99 <<<"$line"
		rps=$(awk -v n="$n" -v us="$us" 'BEGIN{printf "%.0f", n/(us/1e6)}')
		cus=$(awk -v n="$n" -v c="$((c1 - c0))" -v t="$tick" 'BEGIN{printf "%.1f", n ? c/t*1e6/n : 0}')
		echo "round $r: $s $rps req/s, p99 ${p99} ms, $errs errors, server CPU $cus us/request, load $(cut -d' ' -f1 /proc/loadavg)" >&2
		RPS[$s]+="$rps "
		CPU[$s]+="$cus "
	done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "" || b == "") print "-"; else printf "%.2f", a/b}'; }
echo
echo "wrk, Streamable HTTP tools/call add, $conns connections, $rounds rounds x $dur, order rotated"
echo "| server | median req/s | vs bare | server CPU µs/request (median) |"
echo "|---|---:|---:|---:|"
base=$(echo "${RPS[bare]:-}" | median)
for s in "${servers[@]}"; do
	m=$(echo "${RPS[$s]}" | median)
	echo "| $s | $m | $(ratio "$m" "$base") | $(echo "${CPU[$s]}" | median) |"
done
ours=$(echo "${RPS[ours]:-}" | median); mg=$(echo "${RPS[mcpgo]:-}" | median); om=$(echo "${RPS[ours-modern]:-}" | median)
echo "ours vs mcpgo: $(ratio "$ours" "$mg")x (ours has bearer authentication on; the peers have none)"
echo "ours-modern vs mcpgo: $(ratio "$om" "$mg")x; ours-modern vs ours (legacy session): $(ratio "$om" "$ours")x"
oc=$(echo "${CPU[ours]:-}" | median); omc=$(echo "${CPU[ours-modern]:-}" | median)
echo "server CPU per request, ours-modern vs ours: $(ratio "$omc" "$oc")x"
