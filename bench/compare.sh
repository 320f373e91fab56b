#!/usr/bin/env bash
# compare.sh: build the load tool, the comparison servers and (when it
# builds) the product, start them on loopback ports, and measure them the
# same way.
#
#   bench/compare.sh                      # throughput and p99, all servers, 3 rounds of 5 s
#   bench/compare.sh -d 10s -rounds 5     # longer
#   bench/compare.sh -idle 10000          # idle-streams test
#   bench/compare.sh -idle 10000 -idle-sse   # the same with HTTP+SSE streams
#   bench/compare.sh -no-product          # peers only
#   bench/compare.sh -idle 10000 -servers ""   # the product only (-servers names the peers)
#
# Compare mode runs the same Streamable HTTP tools/call load (-c workers on
# as many keep-alive connections, a warm-up, then -d measured) against each
# server, in rounds whose order rotates, and prints each server's median
# throughput and p99 and its ratio to "bare", the plain net/http ceiling.
# It also measures the HTTP+SSE transport of ours and of the SDK peers.
#
# Idle mode, for each server: a baseline load; then a second process holds
# -idle streams open (GET streams waiting for server messages) while the
# same load runs again; then the streams close, and the baseline runs again. It prints the p99 with and
# without the idle streams, the server's RSS and heap per idle stream, and
# goroutines, fds and live heap (after GC) before, during and after.
#
# The product is built from the repository root and started with
# -addr 127.0.0.1:PORT (and -debug-addr 127.0.0.1:PORT when it accepts it)
# and no WorkOS credentials, so it mounts its AuthKit emulator; the token
# comes from the load tool's -signin mode, or from $PRODUCT_TOKEN.
# $PRODUCT_ARGS adds flags. When the product does not build, start or sign
# in, its rows are skipped with the reason.
#
# Everything listens on 127.0.0.1 only; every wait is bounded; the servers
# are killed on exit and stop themselves after -max-lifetime anyway.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)

MODE=compare DUR=5s WARM=1s C=50 ROUNDS=3 IDLE=10000 PRODUCT=auto SSE=1 IDLE_TRANSPORT=streamable
SERVERS="bare gosdk mcpgo"
BASE_PORT=${BENCH_PORT:-18700}
EMAIL=${BENCH_EMAIL:-ada@example.com}
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	-d) DUR=$2; shift 2 ;;
	-warmup) WARM=$2; shift 2 ;;
	-c) C=$2; shift 2 ;;
	-rounds) ROUNDS=$2; shift 2 ;;
	-idle) MODE=idle IDLE=$2; shift 2 ;;
	-idle-sse) IDLE_TRANSPORT=sse; shift ;;
	-servers) SERVERS=$2; shift 2 ;;
	-no-product) PRODUCT=no; shift ;;
	-no-sse) SSE=0; shift ;;
	-h | -help | --help) usage 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; usage 2 ;;
	esac
done

OUT=${OUT:-$HERE/bin/results/$(date -u +%Y%m%dT%H%M%SZ)-$MODE}
mkdir -p "$HERE/bin" "$OUT"
PIDS=()
WORKDIR=$(mktemp -d)
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A watchdog: the whole run ends within an hour whatever happens. Its sleep
# is its own child, killed with it, so nothing outlives the script.
(
	trap 'kill $sp 2>/dev/null; exit 0' TERM
	sleep 3600 &
	sp=$!
	wait $sp && echo "compare.sh: time limit reached" >&2 && kill -TERM $$
) >/dev/null 2>&1 &
PIDS+=($!)

log() { echo "compare.sh: $*" >&2; }

log "building into bench/bin/"
go build -o bin/ ./cmd/mcpload ./cmd/benchtable ./peers/bare ./peers/gosdk ./peers/mcpgo

declare -A PORT DPORT PID_OF URL TOKEN IDLE_TOKENS
# wait_port PORT PID: until something listens on PORT (at most 30 s) or PID dies.
wait_port() {
	for _ in $(seq 1 300); do
		kill -0 "$2" 2>/dev/null || return 1
		(echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

i=0
for s in $SERVERS; do
	i=$((i + 1))
	PORT[$s]=$((BASE_PORT + i)) DPORT[$s]=$((BASE_PORT + 100 + i))
	"bin/$s" -addr "127.0.0.1:${PORT[$s]}" -debug-addr "127.0.0.1:${DPORT[$s]}" -max-lifetime 70m \
		>"$OUT/$s.log" 2>&1 &
	PID_OF[$s]=$!
	PIDS+=($!)
	wait_port "${PORT[$s]}" "${PID_OF[$s]}" || { log "$s did not start: $(tail -3 "$OUT/$s.log")"; exit 1; }
	URL[$s]="http://127.0.0.1:${PORT[$s]}/mcp"
	[ "$s" = bare ] || URL[$s-sse]="http://127.0.0.1:${PORT[$s]}/sse"
done

# The product: skippable, with the reason said once.
OURS=""
start_product() {
	local port=$((BASE_PORT + 50)) dport=$((BASE_PORT + 150)) pid
	if ! (cd .. && go build -o bench/bin/product .) >"$OUT/product-build.log" 2>&1; then
		log "SKIP ours: the product does not build yet: $(head -3 "$OUT/product-build.log" | tr '\n' ' ')"
		return 1
	fi
	local users=()
	if [ "$MODE" = idle ]; then
		# The product bounds the live sessions of one user (100 by default),
		# so idle streams are spread over demo users, 90 each, beside the
		# usual two.
		NIDLEUSERS=$((IDLE / 90 + 1))
		{
			echo '[{"email":"ada@example.com","first_name":"Ada","role":"admin","permissions":["image_generation"]},'
			echo ' {"email":"grace@example.com","first_name":"Grace"}'
			for u in $(seq -f %05g 1 "$NIDLEUSERS"); do echo ",{\"email\":\"idle$u@example.com\"}"; done
			echo ']'
		} >"$WORKDIR/users.json"
		users=(-dev-users "$WORKDIR/users.json")
	fi
	for debug in yes no; do
		local args=(-addr "127.0.0.1:$port" "${users[@]}")
		[ $debug = yes ] && args+=(-debug-addr "127.0.0.1:$dport")
		# shellcheck disable=SC2086 # PRODUCT_ARGS is a list of flags
		(cd "$WORKDIR" && exec env -u WORKOS_API_KEY -u WORKOS_CLIENT_ID "$HERE/bin/product" "${args[@]}" ${PRODUCT_ARGS:-}) \
			>"$OUT/ours.log" 2>&1 &
		pid=$!
		if wait_port "$port" "$pid"; then
			PIDS+=("$pid")
			PID_OF[ours]=$pid PORT[ours]=$port
			[ $debug = yes ] && DPORT[ours]=$dport
			break
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		[ $debug = yes ] && log "the product did not start with -debug-addr; trying without"
	done
	if [ -z "${PID_OF[ours]:-}" ]; then
		log "SKIP ours: the product did not start: $(tail -3 "$OUT/ours.log" | tr '\n' ' ')"
		return 1
	fi
	URL[ours]="http://127.0.0.1:$port/mcp" URL[ours-sse]="http://127.0.0.1:$port/sse"
	# A token is bound to one resource (RFC 8707): /mcp and /sse each get one.
	local n tok
	for n in ours ours-sse; do
		tok=${PRODUCT_TOKEN:-}
		if [ -z "$tok" ] && ! tok=$(bin/mcpload -signin "http://127.0.0.1:$port" -url "${URL[$n]}" -email "$EMAIL" \
			-print-token 2>"$OUT/signin.log"); then
			log "SKIP ours: sign-in failed: $(tail -2 "$OUT/signin.log" | tr '\n' ' ')"
			return 1
		fi
		TOKEN[$n]=$tok
	done
	if [ "$MODE" = idle ] && [ -z "${PRODUCT_TOKEN:-}" ]; then
		n=ours
		[ "$IDLE_TRANSPORT" = sse ] && n=ours-sse
		log "signing in $NIDLEUSERS users for the idle streams"
		if ! bin/mcpload -signin "http://127.0.0.1:$port" -url "${URL[$n]}" -print-token \
			-email "$(seq -f 'idle%05g@example.com' -s , 1 "$NIDLEUSERS")" >"$WORKDIR/idle-tokens" 2>"$OUT/signin.log"; then
			log "SKIP ours: sign-in of the idle users failed: $(tail -2 "$OUT/signin.log" | tr '\n' ' ')"
			return 1
		fi
		IDLE_TOKENS[$n]="$WORKDIR/idle-tokens"
	fi
	OURS=ours
}
if [ "$PRODUCT" != no ] && start_product; then
	log "ours is up on 127.0.0.1:${PORT[ours]} and signed in as $EMAIL"
fi

# load NAME OUTFILE [extra mcpload flags]: one measured run, JSON to OUTFILE.
load() {
	local n=$1 out=$2 srv=${1%-sse} transport=streamable
	shift 2
	[ "$n" != "$srv" ] && transport=sse
	local args=(-q -json -url "${URL[$n]}" -transport "$transport" -c "$C" -d "$DUR" -warmup "$WARM" -settle 0
		-pid "${PID_OF[$srv]}")
	[ -n "${TOKEN[$n]:-}" ] && args+=(-token "${TOKEN[$n]}")
	if ! bin/mcpload "${args[@]}" "$@" >"$out" 2>"$out.err"; then
		log "$n: the run had no successful call: $(head -c 300 "$out.err")"
	fi
}

if [ "$MODE" = compare ]; then
	names=($SERVERS $OURS)
	if [ "$SSE" = 1 ]; then
		for s in gosdk mcpgo $OURS; do [[ " $SERVERS $OURS " == *" $s "* ]] && names+=("$s-sse"); done
	fi
	log "compare: ${names[*]}; $ROUNDS rounds of $WARM warm-up + $DUR at $C connections"
	for r in $(seq 1 "$ROUNDS"); do
		k=$(((r - 1) % ${#names[@]}))
		order=("${names[@]:k}" "${names[@]:0:k}")
		log "round $r: ${order[*]}"
		for n in "${order[@]}"; do load "$n" "$OUT/$n.$r.json"; done
	done
	echo
	echo "mcpload, Streamable HTTP tools/call add, $C connections, $ROUNDS rounds x $DUR (+$WARM warm-up), order rotated"
	bin/benchtable -dir "$OUT"
	echo
	echo "reports: $OUT"
	exit 0
fi

# Idle mode.
idle_names=($SERVERS $OURS)
if [ "$IDLE_TRANSPORT" = sse ]; then
	idle_names=()
	for s in gosdk mcpgo $OURS; do [[ " $SERVERS $OURS " == *" $s "* ]] && idle_names+=("$s-sse"); done
fi
for s in "${idle_names[@]}"; do
	srv=${s%-sse}
	log "idle: $s: baseline"
	load "$s" "$OUT/$s.base.json"
	ready="$OUT/$s.ready"
	rm -f "$ready"
	dbg=()
	[ -n "${DPORT[$srv]:-}" ] && dbg=(-debug "http://127.0.0.1:${DPORT[$srv]}")
	tok=()
	[ -n "${TOKEN[$s]:-}" ] && tok=(-token "${TOKEN[$s]}")
	[ -n "${IDLE_TOKENS[$s]:-}" ] && tok=(-tokens-file "${IDLE_TOKENS[$s]}")
	log "idle: $s: opening $IDLE idle streams in a second process"
	bin/mcpload -json -url "${URL[$s]}" -transport "$IDLE_TRANSPORT" -c 0 -idle "$IDLE" -d 15m -pid "${PID_OF[$srv]}" \
		"${dbg[@]}" "${tok[@]}" \
		-ready-file "$ready" -settle 3s >"$OUT/$s.holder.json" 2>"$OUT/$s.holder.err" &
	holder=$!
	PIDS+=($holder)
	for _ in $(seq 1 1800); do
		[ -f "$ready" ] && break
		kill -0 $holder 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -f "$ready" ]; then
		log "idle: $s: the idle streams were not open within 180 s: $(tail -2 "$OUT/$s.holder.err")"
		kill -INT $holder 2>/dev/null || true
		wait $holder 2>/dev/null || true
		continue
	fi
	log "idle: $s: $(cat "$ready" | tr -d '\n') streams open; measuring under them"
	load "$s" "$OUT/$s.loaded.json"
	kill -INT $holder 2>/dev/null || true
	for _ in $(seq 1 1200); do kill -0 $holder 2>/dev/null || break; sleep 0.1; done
	wait $holder 2>/dev/null || log "idle: $s: the holder failed: $(tail -2 "$OUT/$s.holder.err")"
	# A second baseline after the streams closed: with the machine shared,
	# the spread of the two baselines says how much of a difference is noise.
	log "idle: $s: baseline again"
	load "$s" "$OUT/$s.base2.json"
done
echo
echo "idle $IDLE_TRANSPORT streams: $IDLE held by a second process; load: $C connections, $DUR (+$WARM warm-up); after: 3 s after disconnect, after GC"
bin/benchtable -idle -dir "$OUT"
echo
echo "reports: $OUT"
