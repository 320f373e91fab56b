#!/usr/bin/env bash
# What the operator's view costs a tools/call: the same Streamable HTTP
# tools/call add load as wrk.sh (wrk, 50 connections), on two builds of the
# product side by side in one run, each logging at info to a file as in a
# deployment, and the second build again with -log-level warn (metrics, no
# request or audit line). Rounds rotate the order; each line gives req/s
# and the server's CPU per request (user + system time from /proc over the
# run, divided by the requests served).
#
# -together loads the three at once in each round (a wrk each) instead of
# one after the other: on a machine shared with other work, whose load
# changes from one run to the next, the three then see the same load, and
# their CPU per request compares more steadily (the rates, shared, do not).
#
# -before-flags "..." replaces the flags the before build gets after -addr
# (default: the same as after's), for a build older than a flag: one from
# before the operator's view (issue 14) knows neither -max-requests-per-session
# nor its bound, so it runs with `-before-flags -memory`.
#
# Usage: bench/opscost.sh BEFORE_BINARY AFTER_BINARY [-d 5s] [-rounds 5] [-together] [-before-flags "..."]
# (build them with `go build -o X .` from the two trees to compare).
set -euo pipefail
usage="usage: $0 BEFORE_BINARY AFTER_BINARY [-d 5s] [-rounds 5] [-together] [-before-flags \"...\"]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
before=$(realpath "$1") after=$(realpath "$2"); shift 2
dur=5s rounds=5 conns=50 together= beforeflags=
while [ $# -gt 0 ]; do
	case "$1" in
	-d) dur="$2"; shift 2 ;;
	-rounds) rounds="$2"; shift 2 ;;
	-together) together=1; shift ;;
	-before-flags) beforeflags="$2"; shift 2 ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cd "$(dirname "$0")"
. ./wrklib.sh
go build -o bin/mcpload ./cmd/mcpload
tmp=$(mktemp -d)
declare -A PORT=([before]=18941 [after]=18942 [quiet]=18943) PID
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# One session shared by wrk's connections: its bound on requests in flight
# is raised above the connection count (see wrk.sh).
common=(-memory -max-requests-per-session 1024)
bflags=("${common[@]}")
[ -n "$beforeflags" ] && read -ra bflags <<<"$beforeflags"
"$before" -addr "127.0.0.1:${PORT[before]}" "${bflags[@]}" >"$tmp/before.log" 2>&1 & pids+=($!); PID[before]=$!
"$after" -addr "127.0.0.1:${PORT[after]}" "${common[@]}" >"$tmp/after.log" 2>&1 & pids+=($!); PID[after]=$!
"$after" -addr "127.0.0.1:${PORT[quiet]}" "${common[@]}" -log-level warn >"$tmp/quiet.log" 2>&1 & pids+=($!); PID[quiet]=$!
sleep 1
session() {
	local token
	token=$(bin/mcpload -signin "http://127.0.0.1:${PORT[$1]}" -print-token -q)
	wrk_session "http://127.0.0.1:${PORT[$1]}/mcp" "$token" "$tmp/$1.lua"
}
servers=(before after quiet)
for s in "${servers[@]}"; do session "$s"; done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cpu() { awk '{print $14+$15}' "/proc/${PID[$1]}/stat"; }
load() { wrk -t2 -c"$conns" -d"$dur" -s "$tmp/$1.lua" "http://127.0.0.1:${PORT[$1]}/mcp" | grep '^RESULT' >"$tmp/$1.result"; }
# report ROUND SERVER C0 C1: the round's line for SERVER, whose CPU ticks
# went from C0 to C1. CPU per request in tenths of a microsecond (clock
# ticks are 10 ms).
report() {
	local n errs us p99
	read -r _ n errs us p99 <"$tmp/$2.result"
	echo "round $1 $2 $((n * 1000000 / us)) req/s errors=$errs p99=${p99}ms cpu_us_per_req=$((($4 - $3) * 100000 / n / 10)).$((($4 - $3) * 100000 / n % 10))"
}
for r in $(seq "$rounds"); do
	order=("${servers[@]:r%3}" "${servers[@]:0:r%3}")
	if [ -n "$together" ]; then
		declare -A c0=()
		for s in "${order[@]}"; do c0[$s]=$(cpu "$s"); done
		for s in "${order[@]}"; do load "$s" & done
		wait
		for s in "${order[@]}"; do report "$r" "$s" "${c0[$s]}" "$(cpu "$s")"; done
		continue
	fi
	for s in "${order[@]}"; do
		c0=$(cpu "$s")
		load "$s"
		report "$r" "$s" "$c0" "$(cpu "$s")"
	done
done | tee "$tmp/rounds"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -c . "$tmp/after.log" | sed 's/^/log lines written by after: /'
# Medians per server, and each server's CPU per request over the
# metrics-only one's (quiet) as the ratio of the medians and as the
# median of the per-round ratios (the three ran back to back in a round).
awk '{rate[$3] = rate[$3] " " $4; split($8, c, "="); cpu[$3] = cpu[$3] " " c[2]; per[$2, $3] = c[2]}
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
END {
	for (s in rate) m[s] = median(cpu[s])
	for (s in rate) {
		rs = ""
		for (k in per) { split(k, kk, SUBSEP); if (kk[2] == s && per[kk[1], "quiet"] > 0) rs = rs " " per[k] / per[kk[1], "quiet"] }
		printf "median %s: %d req/s, cpu_us_per_req %.1f, over quiet %.3f (median of rounds %.3f)\n", s, median(rate[s]), m[s], m[s] / m["quiet"], median(rs)
	}
}' "$tmp/rounds" | sort
