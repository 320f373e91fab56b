#!/usr/bin/env bash
# Interoperability with the official MCP TypeScript SDK: installs the pinned
# SDK of .ci/interop/package.json (once per lockfile) and runs
# TestInteropTypeScriptSDK, which starts the server and drives it with
# .ci/interop/client.mjs (Streamable HTTP and HTTP+SSE, OAuth sign-in through
# the SDK). MCP_INTEROP=1 makes a missing Node or SDK a failure, not a skip.
#
# Needs: go, and node (20 or later) with npm on PATH.
# Usage: bash .ci/interop.sh        (from anywhere in the repository)
set -euo pipefail

ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$ci_dir/.." && pwd)"
dir="$ci_dir/interop"

for tool in node npm go; do
	if ! command -v "$tool" >/dev/null; then
		echo "interop: $tool is needed on PATH" >&2
		exit 1
	fi
done

# The stamp records the lockfile's hash: an unchanged lockfile costs
# nothing, a changed one reinstalls.
stamp="$dir/node_modules/.interop-lock-sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [[ ! -e "$dir/node_modules/@modelcontextprotocol/sdk/package.json" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
	echo "interop: installing the TypeScript SDK into .ci/interop/node_modules"
	log="$(mktemp)"
	trap 'rm -f "$log"' EXIT
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || {
		cat "$log" >&2
		exit 1
	}
	echo "$want" >"$stamp"
fi

echo "interop: Node $(node --version), @modelcontextprotocol/sdk $(node -p 'require(process.argv[1]).version' "$dir/node_modules/@modelcontextprotocol/sdk/package.json")"
cd "$root"
MCP_INTEROP=1 exec go test -run '^TestInterop' -count=1 -v .
