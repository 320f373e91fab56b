package mcp

import (
	"net/http"
	"net/textproto"
	"testing"
)

// headerValue looks keys up as net/http stores them, so every key it is
// given must already be canonical; a header set in any case is found.
func TestHeaderValueKeys(t *testing.T) {
	for _, k := range []string{"Origin", "Accept", "Content-Type", headerSessionID, headerProtocolVersion} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("header key %q is not canonical (%q)", k, c)
		}
		h := http.Header{}
		h.Set(k, "v1")
		h.Add(k, "v2")
		if got := headerValue(h, k); got != h.Get(k) || got != "v1" {
			t.Errorf("headerValue(%q) = %q, Header.Get %q", k, got, h.Get(k))
		}
	}
	h := http.Header{}
	h.Set("mcp-session-id", "s")
	if got := headerValue(h, headerSessionID); got != "s" {
		t.Errorf("lower-case Mcp-Session-Id: %q", got)
	}
	if got := headerValue(h, "Origin"); got != "" {
		t.Errorf("absent Origin: %q", got)
	}
}
