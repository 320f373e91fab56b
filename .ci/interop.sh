#!/usr/bin/env bash
# Interoperability with other MCP clients, all installed with Node 22 in
# .ci/node_modules by .ci/node.sh (shared by every Node-based peer test):
# TestInteropTypeScriptSDK (.ci/interop/client.mjs on the official
# TypeScript SDK: OAuth sign-in, Streamable HTTP and HTTP+SSE),
# TestInteropInspector (the MCP Inspector's CLI with tokens from the real
# sign-in), TestInteropInspectorWeb (.ci/interop/inspector-web.mjs: the
# Inspector's web UI in a real Chromium, as the README's steps go: add the
# server, Connect, sign in, call a tool), TestInteropStepUp
# (.ci/interop2/stepup.mjs on the SDK v2 client,
# @modelcontextprotocol/client: step-up authorization through the consent
# page in a real Chromium) and TestInteropTypeScriptSDKv2
# (.ci/interop2/modern.mjs: the 2026-07-28 era, negotiated and pinned, with
# the sign-in pages in Chromium). MCP_INTEROP=1 makes a missing install a
# failure, not a skip.
#
# Needs: go, npm on PATH (for the install), and Chromium (/usr/bin/chromium,
# or MCP_BROWSER_CHROMIUM) for the browser-driven tests; playwright-core
# never downloads a browser.
# Usage: bash .ci/interop.sh        (from anywhere in the repository)
set -euo pipefail

ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$ci_dir/.." && pwd)"

for tool in npm go; do
	if ! command -v "$tool" >/dev/null; then
		echo "interop: $tool is needed on PATH" >&2
		exit 1
	fi
done
source "$ci_dir/node.sh"
ci_node_install

version_of() { node -p 'require(process.argv[1]).version' "$ci_dir/node_modules/$1/package.json"; }
echo "interop: Node $(node --version), @modelcontextprotocol/sdk $(version_of @modelcontextprotocol/sdk), @modelcontextprotocol/client $(version_of @modelcontextprotocol/client), @modelcontextprotocol/inspector $(version_of @modelcontextprotocol/inspector)"
cd "$root"
MCP_INTEROP=1 exec go test -run '^TestInterop' -count=1 -v .
