package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
