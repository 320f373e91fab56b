#!/usr/bin/env bash
# The HTML pages (consent, the AuthKit emulator's sign-in, error pages) in a
# real browser: Chromium from the distribution's package, driven by
# playwright-core (which never downloads a browser of its own, installed
# with Node 22 by .ci/node.sh), against the server started in-process by
# TestBrowserSignIn in browser_test.go.
#
# MCP_BROWSER_SCREENSHOTS=DIR keeps the screenshots there for a person to
# look at; by default they go to a new temporary directory, printed below.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${MCP_BROWSER_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "browser tests: $chromium is missing and installing it needs root;" >&2
		echo "  run: sudo apt-get update && sudo apt-get install -y chromium" >&2
		exit 1
	fi
	echo "== installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq chromium >/dev/null
fi
source .ci/node.sh
ci_node_install

export MCP_BROWSER_SCREENSHOTS="${MCP_BROWSER_SCREENSHOTS:-$(mktemp -d "${TMPDIR:-/tmp}/mcp-browser-shots.XXXXXX")}"
echo "== go test -run TestBrowser (screenshots: $MCP_BROWSER_SCREENSHOTS)"
MCP_BROWSER=1 MCP_BROWSER_CHROMIUM="$chromium" go test -run TestBrowser -count=1 .
