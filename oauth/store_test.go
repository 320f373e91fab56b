package oauth

// The authorization server on the durable file store (package store): a
// failing disk, and a restart.

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"net/http/httptest"
	"os"
	"remote-mcp-authkit/store"
	"time"
)

// hostileDisk is the store file with a switch that makes every write and
// fsync fail, as a full or failing disk would.
type hostileDisk struct {
	store.File
	broken *atomic.Bool
}

func (f hostileDisk) WriteAt(p []byte, off int64) (int, error) {
	if f.broken.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.WriteAt(p, off)
}

func (f hostileDisk) Sync() error {
	if f.broken.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

// TestHostileDiskFailure: with the durable store's disk failing, every
// request that needs a write fails cleanly in its protocol's form (JSON
// server_error or temporarily_unavailable, an error redirect to the client),
// nothing half-written is visible, what is stored stays readable, and once
// the disk recovers everything works again with the same tokens.
func TestHostileDiskFailure(t *testing.T) {
	var broken atomic.Bool
	var fs *store.FileStore
	e := newEnv(t, func(c *Config) {
		var err error
		fs, err = store.OpenFileStore(filepath.Join(t.TempDir(), "oauth.log"), store.WithClock(c.Now),
			store.WithFileWrap(func(f store.File) store.File { return hostileDisk{f, &broken} }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		c.Store = fs
	})
	client, access, refresh := e.tokens()
	spare := e.authorize(client) // a code issued before the failure

	broken.Store(true)
	st, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none"})
	if st != http.StatusInternalServerError || out["error"] != "server_error" {
		t.Errorf("register on a failing disk: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, refresh), "", "")
	if st != http.StatusServiceUnavailable || out["error"] != "temporarily_unavailable" {
		t.Errorf("refresh on a failing disk: %d %v", st, out)
	}
	st, out, _ = e.token(codeForm(client, spare), "", "")
	if st != http.StatusServiceUnavailable || out["error"] != "temporarily_unavailable" {
		t.Errorf("code exchange on a failing disk: %d %v", st, out)
	}
	// The authorization request cannot be stored: a browser that approved
	// the client goes back to it with server_error; any other is shown a
	// page (RFC 9700 s4.11.2).
	resp := e.get(e.browser, e.url("/authorize?"+authParams(client).Encode()))
	readBody(resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "server_error" || !strings.HasPrefix(loc.String(), testRedirect) {
		t.Errorf("authorize on a failing disk: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = e.get(newBrowser(), e.url("/authorize?"+authParams(client).Encode()))
	if body := readBody(resp); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || !strings.Contains(body, "server_error") {
		t.Errorf("authorize on a failing disk, not yet approved: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Reads still work: the access token issued before is accepted.
	if resp, body := e.call("/mcp", access); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"sub"`) {
		t.Errorf("bearer on a failing disk: %d %s", resp.StatusCode, body)
	}

	broken.Store(false)
	// Nothing above left a trace: the spare code and the refresh token
	// work once, as if the failed attempts had never happened.
	st, out, _ = e.token(codeForm(client, spare), "", "")
	if st != http.StatusOK {
		t.Fatalf("code exchange after the disk recovered: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, refresh), "", "")
	if st != http.StatusOK {
		t.Fatalf("refresh after the disk recovered: %d %v", st, out)
	}
	if resp, body := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != http.StatusOK {
		t.Errorf("new access token: %d %s", resp.StatusCode, body)
	}
	e.tokens()
}

// ---------------------------------------------------------------------------
// A restart on the durable store.

// TestFileStoreRestart runs the flow on the durable store, then opens the
// file again in a new Server (a restart) and checks that the access token,
// refresh rotation and revocation still work, and that the file holds no
// token or upstream secret in clear.
func TestFileStoreRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.log")
	fs, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Store = fs; c.Now = time.Now })
	id, at, rt := e.tokens()
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}

	fs2, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fs2.Close()
	cfg := e.srv.cfg
	cfg.Store = fs2
	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Serve the restarted server on the first one's address so the issuer
	// and resource URLs stay the same.
	e.ts.Config.Handler.(*http.ServeMux).Handle("/v2/", http.StripPrefix("/v2", s2.Handler()))
	call := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		s2.RequireBearer(cfg.Resources[0], http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
		return rec.Code
	}
	if c := call(at); c != 200 {
		t.Fatalf("access token after restart: %d", c)
	}
	st, out, _ := e.postForm("/v2/token", refreshForm(id, rt), "", "")
	if st != 200 {
		t.Fatalf("refresh after restart: %d %v", st, out)
	}
	if st, _, _ := e.postForm("/v2/revoke", url.Values{"token": {out["refresh_token"].(string)}, "client_id": {id}}, "", ""); st != 200 {
		t.Fatal(st)
	}
	if c := call(out["access_token"].(string)); c != 401 {
		t.Fatalf("after revocation: %d", c)
	}
	if err := fs2.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{at, rt, out["access_token"].(string), "up_rt_", "up_at"} {
		if strings.Contains(raw, secret) {
			t.Errorf("store file holds %q in clear", secret)
		}
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
