#!/usr/bin/env bash
# Sourced by every Node-based peer test (conformance.sh, interop.sh,
# browser.sh): installs the pinned packages of .ci/package.json into one
# .ci/node_modules, once per lockfile, and puts the Node 22 installed there
# (npm package "node", which ships the binary) first on PATH, so that every
# peer test runs on the same Node whatever the machine's own version is.
# The stamp records the lockfile's hash: an unchanged lockfile costs
# nothing, a changed one reinstalls. playwright-core never downloads a
# browser (the tests drive the distribution's Chromium).
#
# Needs: npm (any version) on PATH for the install.

ci_node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ci_node_install() {
	local stamp="$ci_node_dir/node_modules/.ci-lock-sha256" want log
	want="$(sha256sum "$ci_node_dir/package-lock.json" | cut -d' ' -f1)"
	if [[ ! -x "$ci_node_dir/node_modules/node/bin/node" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
		if ! command -v npm >/dev/null; then
			echo "npm is needed to install .ci/package.json (apt-get install npm)" >&2
			return 1
		fi
		echo "== npm ci (.ci: Node 22 and the peer tests' packages)"
		log="$(mktemp)"
		if ! (cd "$ci_node_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$log"
			return 1
		fi
		rm -f "$log"
		echo "$want" >"$stamp"
	fi
	export PATH="$ci_node_dir/node_modules/node/bin:$PATH"
	local v
	v="$(node --version)"
	if [[ "$v" != v22.* ]]; then
		echo "expected Node 22 from .ci/node_modules on PATH, found $v" >&2
		return 1
	fi
}
