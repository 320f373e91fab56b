package oauth

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A client that uses another host than the resource's (127.0.0.1 for a
// server whose resource says localhost) is told why its sign-in cannot
// work: in the 401's body every time, in the log once per hostHintEvery.
// A request to the resource's own host gets no note.
func TestBearerHostMismatchIsDiagnosable(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	_, at, _ := e.tokens()
	host := strings.TrimPrefix(e.ts.URL, "http://") // 127.0.0.1:PORT, the resource's host
	_, port, _ := strings.Cut(host, ":")
	post := func(reqHost, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.url("/mcp"), strings.NewReader("{}"))
		req.Host = reqHost
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	note := "note: this request came to host localhost:" + port + ", but this server's resource is " + e.url("/mcp")

	for _, auth := range []string{"", "Basic dXNlcjpwYXNz", "Bearer mat_unknown"} {
		status, body := post("localhost:"+port, auth)
		if status != 401 || !strings.Contains(body, note) || !strings.Contains(body, "localhost and 127.0.0.1 are different hosts") {
			t.Errorf("auth %q to localhost: %d %q, want 401 with %q", auth, status, body, note)
		}
		status, body = post(host, auth)
		if status != 401 || strings.Contains(body, "note:") {
			t.Errorf("auth %q to the resource's host: %d %q, want 401 with no note", auth, status, body)
		}
	}
	// Case and the default port do not make a mismatch.
	if _, body := post(strings.ToUpper(host), ""); strings.Contains(body, "note:") {
		t.Errorf("upper-case host got a note: %q", body)
	}
	// A good token passes whatever the Host: the note is for refusals.
	if status, _ := post("localhost:"+port, "Bearer "+at); status != 200 {
		t.Errorf("good token via localhost: %d, want 200", status)
	}

	if n := strings.Count(logs.String(), "came to another host than the resource's"); n != 1 {
		t.Errorf("%d log lines about the host, want 1 (rate-limited):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "request_host=localhost:"+port) || !strings.Contains(logs.String(), "resource="+e.url("/mcp")) {
		t.Errorf("the log line does not name the hosts:\n%s", logs.String())
	}
}

func TestCanonicalHost(t *testing.T) {
	for _, tc := range []struct{ scheme, in, want string }{
		{"http", "LocalHost:80", "localhost"},
		{"http", "localhost:8788", "localhost:8788"},
		{"https", "Example.COM:443", "example.com"},
		{"https", "example.com:80", "example.com:80"},
		{"http", "[::1]:80", "[::1]"},
	} {
		if got := canonicalHost(tc.scheme, tc.in); got != tc.want {
			t.Errorf("canonicalHost(%q, %q) = %q, want %q", tc.scheme, tc.in, got, tc.want)
		}
	}
}
