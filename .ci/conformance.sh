#!/usr/bin/env bash
# Runs the official MCP conformance suite against package mcp and against
# the product, four runs in all; exits non-zero when any check of any run
# fails (there is no list of expected failures):
#
#   1. legacy:  @modelcontextprotocol/conformance 0.1.16, --suite all (every
#      server scenario, pending ones included), against the fixture server in
#      mcp/internal/conformance;
#   2. 2025-11-25: 0.2.0-alpha.12, --requirements 2025-11-25, the fixture;
#   3. 2026-07-28: 0.2.0-alpha.12, --requirements 2026-07-28, the fixture
#      (the not-scored scenarios run too and must pass as well);
#   4. product: 0.2.0-alpha.12 at --spec-version 2026-07-28 against the
#      product's own /mcp, signed in through its AuthKit emulator, for the
#      scenarios server-stateless, tools-list, caching,
#      dns-rebinding-protection and http-header-validation. The suite cannot
#      send a bearer token, so bench/cmd/signedproxy signs in and forwards
#      every request with the token (and with the client's Host and Origin).
#
# Needs: go, and npm (any version) to install the pinned packages of
# .ci/package.json (.ci/node.sh, shared by every Node-based peer test):
# Node 22 (npm package "node", which ships the binary),
# @modelcontextprotocol/conformance 0.1.16, and 0.2.0-alpha.12 under the
# alias conformance-alpha. The suites run on that Node 22.
#
# Usage: bash .ci/conformance.sh            (from anywhere in the repository)
#        CONFORMANCE_SCENARIO=tools-list bash .ci/conformance.sh   (one scenario, runs 1-3)
#        CONFORMANCE_RUNS="2026-07-28 product" bash .ci/conformance.sh   (some runs)
set -euo pipefail

ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$ci_dir/.." && pwd)"
work="$(mktemp -d)"
pids=()
runs="${CONFORMANCE_RUNS:-legacy 2025-11-25 2026-07-28 product}"

cleanup() {
	for pid in "${pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT

# 1. Install the pinned packages (once per lockfile) and put their Node 22
# first on PATH.
source "$ci_dir/node.sh"
ci_node_install || exit 1
node_version="$(node --version)"
legacy_suite="$ci_dir/node_modules/.bin/conformance"
alpha_suite=(node "$ci_dir/node_modules/conformance-alpha/dist/index.js")
version_of() { node -p 'require(process.argv[1]).version' "$ci_dir/node_modules/$1/package.json"; }

# wait_for_url LOG PATTERN PID: prints the first match of PATTERN in LOG
# once the process PID has written it (within 60 s).
wait_for_url() {
	local log="$1" pattern="$2" pid="$3" url=""
	for _ in $(seq 1 600); do
		url="$(grep -o "$pattern" "$log" | head -n1 || true)"
		[[ -n "$url" ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "conformance: $log: the process exited:" >&2
			cat "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	if [[ -z "$url" ]]; then
		echo "conformance: no URL in $log within 60 s" >&2
		cat "$log" >&2
		return 1
	fi
	echo "$url"
}

# 2. Build and start the fixture on a port the kernel picks; it prints the
# URL it serves once it is listening.
(cd "$root" && go build -o "$work/fixture" ./mcp/internal/conformance)
"$work/fixture" -addr 127.0.0.1:0 2>"$work/fixture.log" &
fixture_pid=$!
pids+=("$fixture_pid")
fixture_url="$(wait_for_url "$work/fixture.log" 'http://127\.0\.0\.1:[0-9]*/mcp' "$fixture_pid")"

# report NAME DIR LOG: the summary, then every failed or warned check with
# its reason, read from the saved results; fails unless the summary line
# says 0 failed (or, for one scenario, the suite exited 0).
failed_runs=()
report() {
	local name="$1" dir="$2" log="$3" status="$4" single="$5"
	echo
	echo "=== conformance run: $name ==="
	if grep -q '=== SUMMARY ===' "$log"; then
		sed -n '/=== SUMMARY ===/,$p' "$log"
	else
		grep -E 'Passed: [0-9]+/[0-9]+' "$log" || tail -n 20 "$log"
	fi
	node - "$dir" <<'EOF'
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const out = { FAILURE: [], WARNING: [] };
for (const d of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
  const f = path.join(dir, d, 'checks.json');
  if (!fs.existsSync(f)) continue;
  for (const c of JSON.parse(fs.readFileSync(f, 'utf8'))) {
    const scenario = d.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    if (out[c.status]) out[c.status].push(`  ${scenario}: ${c.id}: ${c.errorMessage || c.description}`);
  }
}
for (const [k, v] of Object.entries(out)) {
  if (v.length) console.log(`\n${k === 'FAILURE' ? 'Failed' : 'Warned'} checks:\n${v.join('\n')}`);
}
EOF
	local total_line failed
	total_line="$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$log" || true)"
	if [[ "$single" == 1 ]]; then
		[[ "$status" -eq 0 ]] || failed_runs+=("$name")
		return
	fi
	failed="$(sed -E 's/^Total: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$total_line")"
	if [[ "$status" -ne 0 || -z "$total_line" || "$failed" != 0 ]]; then
		failed_runs+=("$name")
	fi
}

# run_fixture NAME SUITE... ARGS: one run against the fixture.
run_fixture() {
	local name="$1"
	shift
	local dir="$work/results-$name" log="$work/suite-$name.log" status=0 single=0 selection=("$@")
	if [[ -n "${CONFORMANCE_SCENARIO:-}" ]]; then
		single=1
		# Keep the suite command, replace the selection by the one scenario.
		while [[ "${selection[-1]}" != server ]]; do unset 'selection[-1]'; done
		selection+=(--scenario "$CONFORMANCE_SCENARIO")
		[[ "$name" == 2026-07-28 ]] && selection+=(--spec-version 2026-07-28)
	fi
	(cd "$work" && timeout 1200 "${selection[@]}" --url "$fixture_url" -o "$dir") >"$log" 2>&1 || status=$?
	report "$name (fixture $fixture_url)" "$dir" "$log" "$status" "$single"
}

for run in $runs; do
	case "$run" in
	legacy)
		echo "conformance: @modelcontextprotocol/conformance $(version_of @modelcontextprotocol/conformance) --suite all on Node $node_version"
		run_fixture legacy "$legacy_suite" server --suite all
		;;
	2025-11-25 | 2026-07-28)
		echo "conformance: @modelcontextprotocol/conformance $(version_of conformance-alpha) --requirements $run on Node $node_version"
		run_fixture "$run" "${alpha_suite[@]}" server --requirements "$run"
		;;
	product) ;;
	*)
		echo "conformance: unknown run $run (legacy, 2025-11-25, 2026-07-28, product)" >&2
		exit 2
		;;
	esac
done

# 3. The product, signed in: its own binary with the emulator and the
# conformance diagnostic tools, and the signing proxy in front of it.
if [[ " $runs " == *" product "* ]]; then
	(cd "$root" && go build -o "$work/product" .)
	(cd "$root/bench" && go build -o "$work/signedproxy" ./cmd/signedproxy)
	"$work/product" -addr 127.0.0.1:0 -memory -conformance-diagnostics >"$work/product.log" 2>&1 &
	product_pid=$!
	pids+=("$product_pid")
	product_url="$(wait_for_url "$work/product.log" 'mcp=http://127\.0\.0\.1:[0-9]*/mcp' "$product_pid")"
	product_url="${product_url#mcp=}"
	"$work/signedproxy" -server "${product_url%/mcp}" >"$work/proxy.log" 2>"$work/proxy.err" &
	proxy_pid=$!
	pids+=("$proxy_pid")
	proxy_url="$(wait_for_url "$work/proxy.log" 'http://127\.0\.0\.1:[0-9]*/mcp' "$proxy_pid")" || {
		cat "$work/proxy.err" >&2
		exit 1
	}
	echo "conformance: @modelcontextprotocol/conformance $(version_of conformance-alpha) --spec-version 2026-07-28 against the product ($product_url, signed in)"
	passed=0 failed=0
	for scenario in server-stateless tools-list caching dns-rebinding-protection http-header-validation; do
		dir="$work/results-product-$scenario" log="$work/suite-product-$scenario.log" status=0
		(cd "$work" && timeout 600 "${alpha_suite[@]}" server --url "$proxy_url" --scenario "$scenario" \
			--spec-version 2026-07-28 -o "$dir") >"$log" 2>&1 || status=$?
		counts="$(node -e '
const fs = require("fs"), path = require("path");
let p = 0, f = 0;
for (const d of fs.readdirSync(process.argv[1])) for (const c of JSON.parse(fs.readFileSync(path.join(process.argv[1], d, "checks.json"), "utf8"))) {
  if (c.status === "SUCCESS") p++; else if (c.status === "FAILURE") f++;
}
console.log(p, f);' "$dir" 2>/dev/null || echo "0 1")"
		read -r p f <<<"$counts"
		passed=$((passed + p)) failed=$((failed + f))
		if [[ "$status" -ne 0 || "$f" != 0 ]]; then
			mark="✗"
		else
			mark="✓"
		fi
		echo "$mark $scenario: $p passed, $f failed" >>"$work/product-summary.log"
		[[ "$status" -eq 0 ]] || failed=$((failed + (f == 0)))
		report "product $scenario" "$dir" "$log" "$status" 1
	done
	echo
	echo "=== conformance run: product (signed in, --spec-version 2026-07-28) ==="
	cat "$work/product-summary.log"
	echo "Total: $passed passed, $failed failed"
fi

if [[ ${#failed_runs[@]} -gt 0 ]]; then
	echo "conformance: FAILED: ${failed_runs[*]}" >&2
	echo "--- fixture log (last 40 lines) ---" >&2
	tail -n 40 "$work/fixture.log" >&2
	exit 1
fi
echo "conformance: all checks passed"
