package main

// The one end-to-end harness of this package's tests: startServer runs the
// server through run, exactly as main does, on a loopback port and with its
// log in a buffer; browser is the person at the browser, who approves on
// the consent page and signs in on AuthKit's page through
// authkittest.SignIn. Every test here that needs a running server or a
// signed-in client starts from these.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkittest"
)

// logBuffer collects the server's log, written from its goroutines, for a
// test to read and a failing test to print.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is the product, started by run as `go run .` would start it.
type testServer struct {
	t    *testing.T
	base string              // http://127.0.0.1:port[/path], the issuer and base of every endpoint
	emu  *authkittest.Server // the AuthKit stand-in when started separately; nil in development mode
	logs *logBuffer
	// stop shuts the server down as SIGTERM would and returns what run
	// returned; later calls return the same.
	stop func() error
}

// serverConfig is how a test starts the server. The zero value is
// `-addr 127.0.0.1:0 -memory` with no WorkOS variable set: the development
// sign-in, whose emulator the server mounts at /_authkit.
type serverConfig struct {
	// external: AuthKit is an emulator on its own port (testServer.emu)
	// that the server reaches through WORKOS_CLIENT_ID,
	// WORKOS_CLIENT_SECRET and WORKOS_API_URL, exactly as it reaches
	// WorkOS in production; the test keeps its handle, to change a user's
	// permissions or make it fail.
	external bool
	// basePath: the server listens on a free port it is told in advance,
	// with -base-url http://127.0.0.1:PORT/basePath, as behind a reverse
	// proxy that forwards a path of its site unchanged.
	basePath string
	// env is the environment beyond the WorkOS variables.
	env map[string]string
	// args are more flags. Given -addr, it replaces the default; given
	// -data-dir, -memory is not added.
	args []string
}

// startServer runs the server and stops it when the test ends. run
// returning an error, before listening or at shutdown, fails the test, and
// so does a log that mentions a panic; a failing test prints the log.
func startServer(t *testing.T, c serverConfig) *testServer {
	t.Helper()
	ts, err := launch(t, c)
	if err != nil {
		t.Fatalf("run returned before listening: %v\n%s", err, ts.logs)
	}
	return ts
}

// launch is startServer for a test that expects the configuration to be
// refused: run's error when it returns before listening.
func launch(t *testing.T, c serverConfig) (*testServer, error) {
	t.Helper()
	var args []string
	if !slices.Contains(c.args, "-addr") {
		addr := "127.0.0.1:0"
		if c.basePath != "" {
			addr = freeAddr(t)
			args = append(args, "-base-url", "http://"+addr+c.basePath)
		}
		args = append(args, "-addr", addr)
	}
	if !slices.Contains(c.args, "-data-dir") && !slices.Contains(c.args, "-memory") {
		args = append(args, "-memory")
	}
	args = append(args, c.args...)
	env := maps.Clone(c.env)
	if env == nil {
		env = map[string]string{}
	}
	ts := &testServer{t: t, logs: &logBuffer{}}
	if c.external {
		ts.emu = authkittest.NewServer()
		t.Cleanup(ts.emu.Close)
		env["WORKOS_CLIENT_ID"] = ts.emu.ClientID()
		env["WORKOS_CLIENT_SECRET"] = ts.emu.APIKey()
		env["WORKOS_API_URL"] = ts.emu.URL
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, ts.logs, ready)
	}()
	select {
	case addr := <-ready:
		ts.base = "http://" + addr + c.basePath
	case err := <-done:
		cancel()
		return ts, err
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("server did not start\n%s", ts.logs)
	}
	var once sync.Once
	var stopErr error
	ts.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = errors.New("server did not shut down within 20 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		if strings.Contains(ts.logs.String(), "panic") {
			t.Errorf("the server log mentions a panic")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs)
		}
	})
	return ts, nil
}

// freeAddr is a loopback address nothing listens on, for a server that must
// know its port before it starts (its base URL names it).
func freeAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// ---------------------------------------------------------------------------
// The browser: a cookie jar and an HTML form reader.

// browser follows redirects itself (so that it can stop at the client's
// redirect URI, which nothing listens on) and keeps cookies like a real one.
type browser struct {
	hc *http.Client
	// Pages seen during the last authorize, in order: "consent", "signin".
	seen []string
	// The scope boxes of the last consent page, all left ticked.
	scopeBoxes []string
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its own Transport: an httptest.Server's Close in a parallel test
	// calls CloseIdleConnections on the shared DefaultTransport.
	return &browser{hc: &http.Client{
		Jar:           jar,
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// htmlForm is a POST form as a browser submits it: its action, its hidden
// inputs, and its submit buttons (name and value).
type htmlForm struct {
	action  string
	hidden  url.Values
	buttons [][2]string
}

var (
	formTagRe = regexp.MustCompile(`<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"`)
	hiddenRe  = regexp.MustCompile(`<input\b[^>]*\btype="hidden"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"`)
	buttonRe  = regexp.MustCompile(`<button\b[^>]*\btype="submit"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"`)
	checkedRe = regexp.MustCompile(`<input\b[^>]*\btype="checkbox"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"[^>]*\bchecked`)
)

func parseForm(page string) (*htmlForm, error) {
	m := formTagRe.FindStringSubmatch(page)
	if m == nil {
		return nil, errors.New("no POST form on the page")
	}
	f := &htmlForm{action: html.UnescapeString(m[1]), hidden: url.Values{}}
	for _, h := range hiddenRe.FindAllStringSubmatch(page, -1) {
		f.hidden.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	// Ticked boxes are sent as a browser sends them.
	for _, c := range checkedRe.FindAllStringSubmatch(page, -1) {
		f.hidden.Add(html.UnescapeString(c[1]), html.UnescapeString(c[2]))
	}
	for _, b := range buttonRe.FindAllStringSubmatch(page, -1) {
		f.buttons = append(f.buttons, [2]string{html.UnescapeString(b[1]), html.UnescapeString(b[2])})
	}
	return f, nil
}

// submit presses the button name=value of form, found on the page at base.
func (b *browser) submit(ctx context.Context, base *url.URL, f *htmlForm, name, value string) (*http.Response, error) {
	if !slices.Contains(f.buttons, [2]string{name, value}) {
		return nil, fmt.Errorf("no button %s=%s on the form (have %v)", name, value, f.buttons)
	}
	action, err := base.Parse(f.action)
	if err != nil {
		return nil, err
	}
	vals := url.Values{}
	for k, v := range f.hidden {
		vals[k] = v
	}
	vals.Set(name, value)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.hc.Do(req)
}

// authorize is the person at the browser: it opens authURL, approves on our
// consent page when it is shown, picks email on the AuthKit sign-in page
// (authkittest.SignIn), and follows redirects until one leads to
// redirectURI, whose query it returns (code and state, or error).
func (b *browser) authorize(ctx context.Context, authURL, redirectURI, email string) (url.Values, error) {
	b.seen = nil
	get := func(u string) (*http.Response, error) {
		if strings.HasSuffix(strings.SplitN(u, "?", 2)[0], "/user_management/authorize") {
			// AuthKit's hosted sign-in page (the emulator's).
			b.seen = append(b.seen, "signin")
			return authkittest.SignIn(ctx, b.hc, u, email)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		return b.hc.Do(req)
	}
	res, err := get(authURL)
	for step := 0; step < 12; step++ {
		if err != nil {
			return nil, err
		}
		body, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		here := res.Request.URL
		switch {
		case res.StatusCode == http.StatusFound || res.StatusCode == http.StatusSeeOther:
			loc, perr := here.Parse(res.Header.Get("Location"))
			if perr != nil {
				return nil, fmt.Errorf("redirect from %s: %v", here, perr)
			}
			if strings.HasPrefix(loc.String(), redirectURI+"?") {
				return loc.Query(), nil
			}
			res, err = get(loc.String()) // checked at the top of the loop
			continue
		case res.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("%s %s: %s: %s", res.Request.Method, here, res.Status, body)
		}
		page := string(body)
		form, ferr := parseForm(page)
		if ferr != nil {
			return nil, fmt.Errorf("page at %s: %v\n%s", here, ferr, page)
		}
		if !form.hidden.Has("pending") {
			return nil, fmt.Errorf("unexpected form at %s: %+v", here, form)
		}
		// Our consent page.
		if form.hidden.Get("csrf_token") == "" {
			return nil, fmt.Errorf("consent form without a CSRF token")
		}
		b.seen = append(b.seen, "consent")
		b.scopeBoxes = form.hidden["scope"]
		res, err = b.submit(ctx, here, form, "decision", "approve")
	}
	return nil, errors.New("too many steps without reaching the redirect URI")
}

// freePort returns a loopback port nobody listens on now. The Inspector
// needs its ports fixed in advance (CLIENT_PORT and SERVER_PORT): they
// name the origins its web server allows.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
