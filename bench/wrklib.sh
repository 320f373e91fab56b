# Shared by wrk.sh and opscost.sh: open a legacy MCP session and write the
# wrk script for a tools/call add on it. Sourced, not run.

# wrk_done writes the wrk done() hook that prints the one RESULT line the
# scripts parse: requests, errors, duration (us), p99 latency (ms).
wrk_done() {
	echo 'done = function(summary, latency, requests)'
	echo '  io.write(string.format("RESULT %d %d %d %.2f\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration, latency:percentile(99) / 1000))'
	echo 'end'
}

# wrk_session URL TOKEN OUT: initialize + initialized on URL (with the bearer
# TOKEN unless it is empty), then write to OUT the wrk script for a
# tools/call add on that session.
wrk_session() {
	local url="$1" token="$2" out="$3" auth=() sid
	[ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
	sid=$(curl -s -D - -o /dev/null "$url" "${auth[@]}" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' \
		-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}' |
		tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
	curl -s -o /dev/null "$url" "${auth[@]}" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	{
		# Every request gets its own id (thread number and a counter): the
		# servers refuse, or may refuse, a duplicate in-flight id.
		echo 'local n, threads = 0, 0'
		echo 'function setup(thread) threads = threads + 1; thread:set("tid", threads) end'
		echo 'function request() n = n + 1; return wrk.format(nil, nil, nil, string.format([[{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}]], tid * 1000000000 + n)) end'
		echo 'wrk.method = "POST"'
		echo 'wrk.headers["Content-Type"] = "application/json"'
		echo 'wrk.headers["Accept"] = "application/json, text/event-stream"'
		echo 'wrk.headers["MCP-Protocol-Version"] = "2025-06-18"'
		echo "wrk.headers[\"Mcp-Session-Id\"] = \"$sid\""
		[ -n "$token" ] && echo "wrk.headers[\"Authorization\"] = \"Bearer $token\""
		wrk_done
	} >"$out"
}
