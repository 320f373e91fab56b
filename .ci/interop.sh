#!/usr/bin/env bash
# Interoperability with other MCP clients: installs the pinned packages of
# .ci/interop (the official TypeScript SDK) and .ci/interop/inspector (the
# MCP Inspector and Node 22), once per lockfile, and runs the Go tests
# TestInteropTypeScriptSDK (.ci/interop/client.mjs: OAuth sign-in through the
# SDK, Streamable HTTP and HTTP+SSE) and TestInteropInspector (the
# Inspector's CLI with tokens from the real sign-in), and from .ci/interop2
# (the SDK v2 client, @modelcontextprotocol/client, with playwright-core)
# TestInteropStepUp (.ci/interop2/stepup.mjs: step-up authorization through
# the consent page in a real Chromium) and TestInteropTypeScriptSDKv2
# (.ci/interop2/modern.mjs: the 2026-07-28 era, negotiated and pinned, with
# the sign-in pages in Chromium). MCP_INTEROP=1 makes a missing install a
# failure, not a skip.
#
# Needs: go, node (20 or later) with npm on PATH, and Chromium
# (/usr/bin/chromium, or MCP_BROWSER_CHROMIUM) for the step-up and v2 tests;
# playwright-core never downloads a browser.
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

# install DIR: npm ci in DIR, once per lockfile. The stamp records the
# lockfile's hash: an unchanged lockfile costs nothing, a changed one
# reinstalls.
install() {
	local dir="$1" stamp="$1/node_modules/.interop-lock-sha256" want log
	want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	if [[ -d "$dir/node_modules" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
		return
	fi
	echo "interop: installing ${dir#"$root"/}/package.json"
	log="$(mktemp)"
	if ! (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	echo "$want" >"$stamp"
}
# The TypeScript SDK runs on the machine's Node (20 or later); the
# Inspector needs Node 22, which its folder installs beside it.
install "$dir"
install "$dir/inspector"
install "$ci_dir/interop2"

echo "interop: Node $(node --version), @modelcontextprotocol/sdk $(node -p 'require(process.argv[1]).version' "$dir/node_modules/@modelcontextprotocol/sdk/package.json"), @modelcontextprotocol/client $(node -p 'require(process.argv[1]).version' "$ci_dir/interop2/node_modules/@modelcontextprotocol/client/package.json")"
cd "$root"
MCP_INTEROP=1 exec go test -run '^TestInterop' -count=1 -v .
