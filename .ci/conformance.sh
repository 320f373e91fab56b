#!/usr/bin/env bash
# Runs the official MCP conformance suite (every server scenario, pending
# ones included: --suite all) against package mcp, through the fixture
# server in mcp/internal/conformance. Exits non-zero when any check fails;
# there is no list of expected failures.
#
# Needs: go, and npm (any version) to install the pinned packages of
# .ci/package.json: Node 22 (npm package "node", which ships the binary) and
# @modelcontextprotocol/conformance. The suite itself runs on that Node 22.
#
# Usage: bash .ci/conformance.sh            (from anywhere in the repository)
#        CONFORMANCE_SCENARIO=tools-list bash .ci/conformance.sh   (one scenario)
set -euo pipefail

ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$ci_dir/.." && pwd)"
work="$(mktemp -d)"
fixture_pid=""

cleanup() {
	if [[ -n "$fixture_pid" ]] && kill -0 "$fixture_pid" 2>/dev/null; then
		kill "$fixture_pid" 2>/dev/null || true
		wait "$fixture_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# 1. Install the pinned packages, once per lockfile: the stamp records the
# lockfile's hash, so a changed lockfile reinstalls and an unchanged one
# costs nothing.
stamp="$ci_dir/node_modules/.conformance-lock-sha256"
want="$(sha256sum "$ci_dir/package-lock.json" | cut -d' ' -f1)"
if [[ ! -x "$ci_dir/node_modules/node/bin/node" || ! -e "$ci_dir/node_modules/.bin/conformance" ||
	"$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
	if ! command -v npm >/dev/null; then
		echo "conformance: npm is needed to install .ci/package.json (apt-get install npm)" >&2
		exit 1
	fi
	echo "conformance: installing Node 22 and the conformance suite into .ci/node_modules"
	(cd "$ci_dir" && npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1) || {
		cat "$work/npm.log" >&2
		exit 1
	}
	echo "$want" >"$stamp"
fi
export PATH="$ci_dir/node_modules/node/bin:$PATH"
node_version="$(node --version)"
if [[ "$node_version" != v22.* ]]; then
	echo "conformance: expected Node 22 on PATH, found $node_version" >&2
	exit 1
fi
suite_version="$(node -p 'require(process.argv[1]).version' "$ci_dir/node_modules/@modelcontextprotocol/conformance/package.json")"

# 2. Build and start the fixture on a port the kernel picks; it prints the
# URL it serves once it is listening.
(cd "$root" && go build -o "$work/fixture" ./mcp/internal/conformance)
"$work/fixture" -addr 127.0.0.1:0 2>"$work/fixture.log" &
fixture_pid=$!
url=""
for _ in $(seq 1 100); do
	url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$work/fixture.log" | head -n1 || true)"
	[[ -n "$url" ]] && break
	if ! kill -0 "$fixture_pid" 2>/dev/null; then
		echo "conformance: the fixture exited:" >&2
		cat "$work/fixture.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ -z "$url" ]]; then
	echo "conformance: the fixture did not start within 10 s" >&2
	cat "$work/fixture.log" >&2
	exit 1
fi

# 3. Run the suite. Its own output lists every scenario; the checks of each
# are saved as JSON so that failures can be shown in full below.
if [[ -n "${CONFORMANCE_SCENARIO:-}" ]]; then
	selection=(--scenario "$CONFORMANCE_SCENARIO")
else
	selection=(--suite all)
fi
echo "conformance: @modelcontextprotocol/conformance $suite_version on Node $node_version against $url"
status=0
(cd "$work" && timeout 900 "$ci_dir/node_modules/.bin/conformance" server --url "$url" "${selection[@]}" \
	-o "$work/results") >"$work/suite.log" 2>&1 || status=$?

# 4. Report: the summary, then every failed or warned check with its
# reason, read from the saved results.
if grep -q '=== SUMMARY ===' "$work/suite.log"; then
	sed -n '/=== SUMMARY ===/,$p' "$work/suite.log"
else
	cat "$work/suite.log"
fi
node - "$work/results" <<'EOF'
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

total_line="$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$work/suite.log" || true)"
if [[ "$status" -ne 0 ]]; then
	echo "conformance: FAILED (suite exit status $status)" >&2
	[[ -n "$total_line" ]] || tail -n 40 "$work/suite.log" >&2
	echo "--- fixture log (last 40 lines) ---" >&2
	tail -n 40 "$work/fixture.log" >&2
	exit 1
fi
if [[ -z "${CONFORMANCE_SCENARIO:-}" ]]; then
	failed="$(sed -E 's/^Total: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$total_line")"
	if [[ -z "$total_line" || "$failed" != 0 ]]; then
		echo "conformance: FAILED: no clean summary line" >&2
		exit 1
	fi
fi
echo "conformance: all checks passed"
