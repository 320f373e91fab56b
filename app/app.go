// Package app is the server's wiring: configuration from flags and the
// environment, the identity provider (AuthKit or its emulator), the
// authorization server, the MCP server and its tools, health checks, the
// http.Server and its graceful shutdown. The command in the repository's
// root calls Run with the single-process defaults; the replicas module's
// command calls it with a shared Store and events Bus, so that both binaries
// take the same flags and environment and serve the same endpoints.
//
// The server is three things behind one listener:
//
//   - an OAuth 2.1 authorization server for MCP clients (package oauth):
//     discovery, dynamic registration, consent, code and refresh grants,
//     revocation;
//   - an AuthKit sign-in (package oauth/authkit), or, when no WorkOS account is
//     configured, a built-in AuthKit emulator (package oauth/authkittest) so
//     that `go run .` works end to end on a laptop;
//   - an MCP server (package mcp) at /mcp (Streamable HTTP) and /sse (HTTP+SSE)
//     whose tool table (package tools) is filtered by the caller's AuthKit
//     permissions and organization.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"remote-mcp-authkit/audit"
	"remote-mcp-authkit/events"
	"remote-mcp-authkit/internal/gcfloor"
	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
	"remote-mcp-authkit/store"
	"remote-mcp-authkit/tools"
)

// Version is reported as serverInfo.version in initialize.
const Version = "0.1.0"

// emulatorPrefix is where the development AuthKit emulator is mounted when no
// WorkOS account is configured. It never exists when one is.
const emulatorPrefix = "/_authkit"

// Options is what a caller of Run supplies beyond flags and environment.
// Every field is optional.
type Options struct {
	// Store, when set, replaces the file (or -memory) store; Run does not
	// close it. A store shared by several processes needs the same secret
	// in each, so SERVER_SECRET is then required, and -data-dir and
	// -memory are ignored.
	Store store.Store
	// Events carries revocations and permission changes between processes
	// sharing Store (package events). Default: in-process.
	Events events.Bus
	// Ready, when non-nil, receives the bound address once the server is
	// listening (tests use it with -addr 127.0.0.1:0).
	Ready chan<- string
	// Name is the program name in flag errors. Default
	// "remote-mcp-authkit".
	Name string
	// Usage, when set, is printed after the flags by -h (the replicas
	// command names DATABASE_URL there).
	Usage string
	// Lease is mcp.ServerOptions.Lease: how long a replica's HTTP+SSE
	// session records and running tasks stay valid unless it renews them
	// (renewed every third of it). 0 means 90 s; tests shorten it.
	Lease time.Duration
}

// config is everything the server reads from its flags and environment.
type config struct {
	addr    string
	baseURL string
	// baseURLFromAddr: no -base-url or BASE_URL was given, so the base URL
	// follows the address actually bound (which differs for port 0).
	baseURLFromAddr bool
	dataDir         string
	memoryStore     bool
	allowedOrigins  []string
	idleTimeout     time.Duration
	maxSessions     int
	maxInFlight     int
	maxClients      int
	readTimeout     time.Duration
	// adminAddr serves /metrics and /debug/vars (loopback only); -debug-addr
	// is its older name.
	adminAddr string
	logFormat string
	logLevel  slog.Level
	// shutdownDrain is how long /readyz answers 503 before the listener
	// closes at shutdown, so that a load balancer polling it stops sending
	// requests first.
	shutdownDrain time.Duration
	// toolRateLimits replace the tool table's declared limits per tool
	// (tools.ParseRateLimits).
	toolRateLimits map[string]tools.RateLimit
	// auditWorkOS sends the audit trail to WorkOS Audit Logs too.
	auditWorkOS   bool
	devUsersFile  string
	allowPrivCIMD bool
	diagnostics   bool
	// devPublicBaseURL lets the development sign-in run under a base URL
	// whose host is not loopback (a tunnel the developer owns); see
	// checkDevBaseURL.
	devPublicBaseURL bool
	// initialScope is what the 401 challenge and the protected resource
	// metadata ask clients to request first: "all" scopes, or the
	// "baseline" only (then clients step up for the rest).
	initialScope string
	// heapFloor is the least heap goal of the garbage collector, in MiB
	// (internal/gcfloor); 0, or GOGC set in the environment, leaves the
	// runtime's own.
	heapFloor int

	authkit authkit.Config // zero ClientID: development sign-in
	secret  string
}

func parseConfig(args []string, getenv func(string) string, opts Options) (*config, error) {
	name := opts.Name
	if name == "" {
		name = "remote-mcp-authkit"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if opts.Usage != "" {
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", name)
			fs.PrintDefaults()
			fmt.Fprintln(fs.Output(), opts.Usage)
		}
	}
	c := &config{}
	fs.StringVar(&c.addr, "addr", envOr(getenv, "ADDR", "localhost:8788"),
		"address to listen on (env ADDR); without a WorkOS account only loopback addresses are allowed")
	fs.StringVar(&c.baseURL, "base-url", getenv("BASE_URL"),
		"public URL clients use to reach this server, the OAuth issuer (env BASE_URL; default http://ADDR)")
	fs.StringVar(&c.dataDir, "data-dir", envOr(getenv, "DATA_DIR", "data"),
		"directory for the durable OAuth store and the generated server secret (env DATA_DIR)")
	fs.BoolVar(&c.memoryStore, "memory", false,
		"keep OAuth state in memory only (lost on restart; for tests and demos)")
	origins := fs.String("allowed-origins", getenv("ALLOWED_ORIGINS"),
		"comma-separated extra origins allowed to call /mcp and /sse from a browser (env ALLOWED_ORIGINS)")
	fs.IntVar(&c.maxClients, "max-clients", 50000,
		"registered OAuth clients kept at once; past it registration answers 503 until unused ones expire (24h)")
	fs.IntVar(&c.maxSessions, "max-sessions-per-user", 100,
		"live MCP sessions one user may hold; a new one past it ends that user's least recently active session")
	fs.IntVar(&c.maxInFlight, "max-requests-per-session", 16,
		"requests of one MCP session in progress at once; past it a POST gets 429 with Retry-After")
	fs.DurationVar(&c.idleTimeout, "session-idle-timeout", 30*time.Minute,
		"end MCP sessions idle for this long")
	fs.DurationVar(&c.readTimeout, "read-timeout", 30*time.Second,
		"how long a client may take to send a whole request (its headers: at most 10s)")
	fs.StringVar(&c.adminAddr, "admin-addr", getenv("ADMIN_ADDR"),
		"loopback address of the admin listener: /metrics (Prometheus), /debug/vars (expvar) and POST /debug/gc (env ADMIN_ADDR); empty: off")
	debugAddr := fs.String("debug-addr", "", "older name of -admin-addr")
	fs.StringVar(&c.logFormat, "log-format", envOr(getenv, "LOG_FORMAT", "text"), "log format: text or json (env LOG_FORMAT)")
	logLevel := fs.String("log-level", envOr(getenv, "LOG_LEVEL", "info"), "least severe log level written: debug, info, warn or error (env LOG_LEVEL); warn drops the request and audit lines")
	fs.DurationVar(&c.shutdownDrain, "shutdown-drain", 0,
		"at shutdown, answer /readyz with 503 for this long before closing the listener, so a load balancer drains this process first")
	fs.StringVar(&c.devUsersFile, "dev-users", getenv("DEV_USERS_FILE"),
		"JSON file replacing the emulator's demo users (development sign-in only; env DEV_USERS_FILE)")
	fs.BoolVar(&c.allowPrivCIMD, "dev-allow-private-client-metadata", false,
		"let client ID metadata documents be fetched from loopback and private addresses (development only)")
	fs.BoolVar(&c.diagnostics, "conformance-diagnostics", false,
		"also serve the diagnostic tools the MCP conformance suite calls (test_missing_capability, test_logging_tool); for conformance runs only")
	fs.BoolVar(&c.devPublicBaseURL, DevPublicFlag, false,
		"DANGEROUS: let the development sign-in (\"sign in as anyone\") run under a -base-url whose host is not loopback, e.g. a tunnel you own; whoever reaches that URL can sign in as any demo user")
	fs.BoolVar(&c.auditWorkOS, "audit-workos", getenv("AUDIT_WORKOS") == "1",
		"send audit events to WorkOS Audit Logs as well as the log (env AUDIT_WORKOS=1); in development they go to the emulator, shown at /_authkit/audit_logs/events")
	limits := fs.String("tool-rate-limits", getenv("TOOL_RATE_LIMITS"),
		"per-user tool call limits replacing the table's, e.g. generateImage=10/1m,add=100/1m or generateImage=off (env TOOL_RATE_LIMITS); replicas sharing a store share each user's allowance")
	fs.StringVar(&c.initialScope, "initial-scope", envOr(getenv, "INITIAL_SCOPE", "all"),
		"scopes clients are told to ask for first (env INITIAL_SCOPE): all (each still approved on the consent page), or baseline (least privilege from the start; the rest by step-up, which clients such as the TypeScript SDK 1.x cannot do)")
	heapFloor := fs.String("heap-floor", envOr(getenv, "HEAP_FLOOR", "16"),
		"least heap goal of the garbage collector, in MiB (env HEAP_FLOOR): a small heap is then not collected a hundred times a second under load; 0, or GOGC in the environment, leaves the Go runtime's own pacing, and GOMEMLIMIT still bounds the heap")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	floor, err := strconv.Atoi(*heapFloor)
	if err != nil || floor < 0 || floor > 1<<20 {
		return nil, fmt.Errorf("-heap-floor %q: want a whole number of MiB, 0 to turn it off", *heapFloor)
	}
	if getenv("GOGC") == "" { // else the operator paces the collector
		c.heapFloor = floor
	}
	if c.initialScope != "all" && c.initialScope != "baseline" {
		return nil, fmt.Errorf("-initial-scope %q: want all or baseline", c.initialScope)
	}
	switch {
	case *debugAddr == "":
	case c.adminAddr == "" || c.adminAddr == *debugAddr:
		c.adminAddr = *debugAddr
	default:
		return nil, fmt.Errorf("-debug-addr %s and -admin-addr %s: -debug-addr is the older name of -admin-addr; give one", *debugAddr, c.adminAddr)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return nil, fmt.Errorf("-log-format %q: want text or json", c.logFormat)
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", *logLevel)
	}
	if c.toolRateLimits, err = tools.ParseRateLimits(*limits); err != nil {
		return nil, fmt.Errorf("-tool-rate-limits: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.allowedOrigins = append(c.allowedOrigins, o)
		}
	}
	if c.baseURL == "" {
		c.baseURL = "http://" + c.addr
		c.baseURLFromAddr = true
	}
	u, err := url.Parse(c.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-base-url %q: want an absolute http(s) URL with no query or fragment", c.baseURL)
	}
	c.baseURL = strings.TrimSuffix(c.baseURL, "/")
	c.secret = getenv("SERVER_SECRET")
	ak, err := authkit.ConfigFromEnv(getenv)
	switch {
	case errors.Is(err, authkit.ErrNotConfigured):
	case err != nil:
		return nil, err
	default:
		c.authkit = ak
	}
	return c, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// isLoopbackAddr reports whether a listen address can only be reached from
// this machine. The development sign-in lets anyone pick any demo user, so it
// must never be reachable from elsewhere.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DevPublicFlag is the name of the opt-in that lets the development sign-in be served
// under a public base URL. Its name says what it does, so that nobody passes
// it by accident and a reader of a command line sees the risk.
const DevPublicFlag = "dev-allow-public-base-url"

// checkDevBaseURL refuses a development sign-in whose base URL names a host
// other than loopback, unless explicitly allowed. Listening on loopback is
// not enough: a tunnel or reverse proxy that forwards a public name to the
// loopback listener would serve the "sign in as anyone" emulator to whoever
// reaches that name, and the base URL is what says such a name is intended.
func checkDevBaseURL(baseURL string, allowed bool) error {
	u, err := url.Parse(baseURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()) || allowed {
		return nil
	}
	return fmt.Errorf("refusing -base-url %s: the development sign-in (no WorkOS account configured) lets anyone who reaches the server sign in as a demo user, and %q is not a loopback host, so it would be served to whoever reaches that name through a tunnel or proxy; use a loopback base URL, set WORKOS_CLIENT_ID and WORKOS_CLIENT_SECRET, or, for a tunnel only you can reach, pass -%s", baseURL, host, DevPublicFlag)
}

// Run parses args (flags, without the program name) and getenv, starts the
// server and blocks until ctx ends, then shuts down gracefully. It logs to
// logOut. An error is a configuration error or a failure to start.
//
// It reads as the list of what the server is made of, in the order each
// part needs the one before: the store (and the server secret), the
// identity provider, the tools, the MCP server, the authorization server,
// the HTTP server; then it serves.
func Run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer, opts Options) error {
	cfg, err := parseConfig(args, getenv, opts)
	if err != nil {
		return err
	}
	if cfg.heapFloor > 0 {
		gcfloor.Set(uint64(cfg.heapFloor) << 20)
	}
	w := newWiring(cfg, opts, logOut)
	defer w.close()
	if err := w.listen(); err != nil {
		return err
	}
	if err := w.openStore(); err != nil {
		return err
	}
	if err := w.identityProvider(); err != nil {
		return err
	}
	if err := w.toolTable(getenv); err != nil {
		return err
	}
	if err := w.mcpServer(); err != nil {
		return err
	}
	if err := w.authorizationServer(); err != nil {
		return err
	}
	w.httpServer()
	if err := w.adminListener(); err != nil {
		return err
	}
	return w.serve(ctx)
}

// wiring is the server being built by Run: each step fills in what the
// later ones use, and registers what must be undone at the end.
type wiring struct {
	cfg    *config
	opts   Options
	lw     *logWriter
	logger *slog.Logger
	om     *opsMetrics
	// dev: no WorkOS account is configured, so the sign-in is the
	// emulator's.
	dev bool
	// cleanup runs in reverse order when Run returns.
	cleanup []func()

	ln     net.Listener
	secret []byte
	st     store.Store
	bus    events.Bus
	// basePath is the public URL's path ("" at the site's root): every
	// endpoint lives under it, as behind a reverse proxy that forwards a
	// path unchanged. The authorization server mounts its own endpoints
	// under it.
	basePath string
	mux      *http.ServeMux

	provider oauth.IdentityProvider
	trail    *audit.Trail
	table    *tools.Table
	mcp      *mcp.Server
	auth     *oauth.Server
	health   *health
	srv      *http.Server
}

// newWiring sets up the log (records are written in batches, logwriter.go:
// a request's log and audit lines must not each cost a write system call)
// and the operations metrics.
func newWiring(cfg *config, opts Options, logOut io.Writer) *wiring {
	w := &wiring{cfg: cfg, opts: opts, lw: newLogWriter(logOut), om: newOpsMetrics(), mux: http.NewServeMux()}
	w.onClose(func() { w.lw.Close() })
	hopts := &slog.HandlerOptions{Level: cfg.logLevel}
	w.logger = slog.New(newFastHandler(w.lw, cfg.logFormat == "json", hopts))
	w.dev = cfg.authkit.ClientID == ""
	return w
}

// onClose registers f to run when Run returns, after everything registered
// later.
func (w *wiring) onClose(f func()) { w.cleanup = append(w.cleanup, f) }

func (w *wiring) close() {
	for i := len(w.cleanup) - 1; i >= 0; i-- {
		w.cleanup[i]()
	}
}

// listen binds the listener (and settles the base URL when the port was
// 0), after refusing a development sign-in that
// others could reach.
func (w *wiring) listen() error {
	cfg := w.cfg
	if w.dev && !isLoopbackAddr(cfg.addr) {
		return fmt.Errorf("refusing to listen on %s: the development sign-in (no WorkOS account configured) lets anyone sign in as a demo user, so it only listens on loopback; set WORKOS_CLIENT_ID and WORKOS_CLIENT_SECRET to serve other addresses", cfg.addr)
	}
	if w.dev {
		if err := checkDevBaseURL(cfg.baseURL, cfg.devPublicBaseURL); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	w.ln = ln
	w.onClose(func() { ln.Close() })
	if cfg.baseURLFromAddr && strings.HasSuffix(cfg.addr, ":0") {
		cfg.baseURL = "http://" + ln.Addr().String()
	}
	if u, err := url.Parse(cfg.baseURL); err == nil {
		w.basePath = u.EscapedPath()
	}
	return nil
}

// openStore opens the store (the caller's shared one, memory, or the file
// in -data-dir) and the server secret, and the events bus.
func (w *wiring) openStore() error {
	cfg, opts, logger := w.cfg, w.opts, w.logger
	var err error
	switch {
	case cfg.secret != "":
		if w.secret, err = oauth.ParseSecret(cfg.secret); err != nil {
			return fmt.Errorf("SERVER_SECRET: %w", err)
		}
	case opts.Store != nil:
		// Each process would otherwise make up its own, and tokens, cookies
		// and sealed sessions made by one would be refused by the others.
		return errors.New("SERVER_SECRET is required with a shared store: every process sharing it needs the same secret (generate one with: openssl rand -base64 32)")
	case cfg.memoryStore:
		w.secret = make([]byte, 32)
		if _, err := rand.Read(w.secret); err != nil {
			return err
		}
	default:
		var created bool
		if w.secret, created, err = oauth.LoadOrCreateSecret(cfg.dataDir); err != nil {
			return err
		}
		if created {
			logger.Info("generated a new server secret; set SERVER_SECRET to manage it yourself", "file", filepath.Join(cfg.dataDir, "secret"))
		}
	}
	var st store.Store
	switch {
	case opts.Store != nil:
		st = opts.Store
	case cfg.memoryStore:
		st = store.NewMemoryStore()
		w.onClose(func() { st.Close() })
	default:
		if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
			return err
		}
		fstore, err := store.OpenFileStore(filepath.Join(cfg.dataDir, "oauth.log"), store.WithLogger(logger))
		if errors.Is(err, store.ErrFileInUse) {
			return fmt.Errorf("%s is in use by another running instance; stop it or choose another -data-dir", cfg.dataDir)
		}
		if err != nil {
			// A corrupt store is never replaced by an empty one: that would
			// silently revoke every grant. The message says what to do.
			return err
		}
		st = fstore
		w.onClose(func() { st.Close() })
	}
	// Every store is metered, a shared one included: its failures are what
	// an operator of replicas most needs to see.
	w.st = meteredStore{Store: st, m: w.om}
	w.bus = opts.Events
	if w.bus == nil {
		w.bus = events.NewLocal()
	}
	return nil
}

// identityProvider builds the upstream sign-in, AuthKit or, with no WorkOS
// account, its emulator mounted under /_authkit, and the audit trail, which
// goes to WorkOS Audit Logs through the same API when asked.
func (w *wiring) identityProvider() error {
	cfg, lw, logger, om := w.cfg, w.lw, w.logger, w.om
	akCfg := cfg.authkit
	if w.dev {
		// The server secret keys the emulator's sealed codes, refresh tokens
		// and session ids and derives its signing key, so a client signed in
		// before a restart (same data directory, or same SERVER_SECRET) keeps
		// refreshing after it, and replicas sharing the secret agree.
		opts := []authkittest.Option{authkittest.WithRedirectURIs(cfg.baseURL + "/callback"), authkittest.WithSecret(w.secret)}
		if cfg.devUsersFile != "" {
			opts = append(opts, authkittest.WithUsersFile(cfg.devUsersFile))
		}
		emu, err := authkittest.NewHandler(cfg.baseURL+emulatorPrefix, opts...)
		if err != nil {
			return err
		}
		w.mux.Handle(w.basePath+emulatorPrefix+"/", http.StripPrefix(w.basePath+emulatorPrefix, emu.Handler()))
		// The server talks to the emulator in-process, so it needn't be able
		// to reach its own public URL.
		akCfg = authkit.Config{ClientID: emu.ClientID(), APIKey: emu.APIKey(), APIURL: emu.URL, HTTPClient: emu.Client()}
		fmt.Fprintf(lw, "\n  development sign-in: no WorkOS account configured\n"+
			"  AuthKit is emulated at %s with demo users (%s);\n"+
			"  anyone who can reach this server can sign in as them, so it listens on loopback only.\n"+
			"  Set WORKOS_CLIENT_ID and WORKOS_CLIENT_SECRET to sign in with AuthKit.\n\n", emu.URL, demoUsers(emu.Users()))
		if u, _ := url.Parse(cfg.baseURL); checkDevBaseURL(cfg.baseURL, false) != nil {
			fmt.Fprintf(lw, "  !!! -%s is set: the base URL's host %s is not loopback.\n"+
				"  !!! ANYONE WHO CAN REACH %s CAN SIGN IN AS ANY DEMO USER.\n"+
				"  !!! Use it only for a tunnel or proxy that you alone can reach.\n\n", DevPublicFlag, u.Hostname(), cfg.baseURL)
			logger.Warn("development sign-in served under a public base URL", "base_url", cfg.baseURL, "flag", "-"+DevPublicFlag)
		}
	}
	akCfg.Logger = logger
	akCfg.HTTPClient = om.meterWorkOS(akCfg.HTTPClient)

	// The audit trail: always the log; WorkOS Audit Logs when asked, from
	// a queue that never holds a request up.
	var auditSink audit.Sink
	if cfg.auditWorkOS {
		ws := audit.NewWorkOS(audit.WorkOSConfig{APIKey: akCfg.APIKey, APIURL: akCfg.APIURL, HTTPClient: akCfg.HTTPClient, Logger: logger})
		w.onClose(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws.Close(ctx)
		})
		auditSink = ws
		om.watchAudit(ws)
	}
	w.trail = audit.New(logger, auditSink)
	provider, err := authkit.New(akCfg)
	if err != nil {
		return err
	}
	w.provider = provider
	return nil
}

// toolTable builds the tools, with the image service the environment
// names, their rate limits, and the observer that meters and audits calls.
func (w *wiring) toolTable(getenv func(string) string) error {
	cfg, om, trail := w.cfg, w.om, w.trail
	gen, err := tools.ImageGeneratorFromEnv(getenv)
	if err != nil {
		return err
	}
	imageGen := tools.ObserveImages(gen, om.imageCall)
	table, err := tools.Default(imageGen)
	if err == nil && cfg.diagnostics {
		table, err = tools.NewTable(append([]tools.Tool{tools.Add(), tools.WhoAmI(), tools.GenerateImage(imageGen)}, tools.Diagnostics()...)...)
	}
	if err != nil {
		return err
	}
	table.SetLogger(w.logger)
	table.SetObserver(func(ctx context.Context, c tools.CallInfo) {
		om.toolCall(c)
		auditToolCall(ctx, trail, om, c)
	})
	if w.opts.Store != nil {
		// A user's allowance is one across the replicas sharing the store.
		table.SetLimiter(storeLimiter{w.st})
	}
	for name, l := range cfg.toolRateLimits {
		if err := table.SetRateLimit(name, l); err != nil {
			return err
		}
	}
	w.table = table
	return nil
}

// mcpServer builds the MCP server that serves the tool table.
func (w *wiring) mcpServer() error {
	om := w.om
	// The key that seals multi round-trip requestStates (mcp/mrtr.go) is
	// derived from the server secret (HKDF, RFC 5869), so every process of
	// a deployment sharing SERVER_SECRET accepts the others' states, and
	// the key is never the secret itself.
	stateKey, err := hkdf.Key(sha256.New, w.secret, nil, "remote-mcp-authkit mcp requestState v1", 32)
	if err != nil {
		return err
	}
	// generateImage may run as a task (io.modelcontextprotocol/tasks): ten
	// minutes, 16 per user; in this process's memory, or, with a shared
	// store, in it, so that every replica answers for every task.
	taskOpts := &mcp.TaskOptions{}
	var serverRelay mcp.Relay
	if w.opts.Store != nil {
		taskOpts.Store, taskOpts.Relay = storeTasks{st: w.st}, busTaskRelay{w.bus, w.st}
		// A resource change announced here reaches the listeners and
		// subscriptions other replicas hold.
		serverRelay = busRelay{w.bus, w.st}
	}
	w.mcp = mcp.NewServer(mcp.ServerOptions{
		Info:         mcp.Implementation{Name: "remote-mcp-authkit", Title: "Remote MCP with AuthKit", Version: Version},
		Instructions: "Tools gated by your AuthKit permissions: add two numbers, see who you are signed in as, and (with the image_generation permission) generate images.",
		Tools:        w.table,
		// tools/list is computed per identity (permissions), so modern
		// results say cacheScope "private".
		ToolsVaryByCaller: true,
		Tasks:             taskOpts,
		Relay:             serverRelay,
		Lease:             w.opts.Lease,
		StateKey:          stateKey,
		Logger:            w.logger,
		Observe: func(ctx context.Context, info mcp.RequestInfo) {
			om.mcpRequest(info)
			recordMCP(ctx, info)
		},
	})
	om.watchMCP(w.mcp)
	addGuide(w.mcp)
	return nil
}

// authorizationServer builds the OAuth 2.1 authorization server for the
// two MCP endpoints, and subscribes the MCP server to what happens to
// grants, here or in another process sharing the store.
func (w *wiring) authorizationServer() error {
	cfg, om, trail, mcpServer, st, logger := w.cfg, w.om, w.trail, w.mcp, w.st, w.logger
	authServer, err := oauth.NewServer(oauth.Config{
		Issuer:                          cfg.baseURL,
		Resources:                       []string{cfg.baseURL + "/mcp", cfg.baseURL + "/sse"},
		Store:                           w.st,
		Events:                          w.bus,
		Replicated:                      w.opts.Store != nil,
		Provider:                        w.provider,
		Secret:                          w.secret,
		AllowPrivateClientMetadataHosts: cfg.allowPrivCIMD,
		MaxClients:                      cfg.maxClients,
		Logger:                          w.logger,
		ServiceName:                     "Remote MCP with AuthKit",
		// The tool table decides the scopes: a baseline for the tools
		// anyone signed in may use, one per permission a tool requires.
		Scopes:        w.table.Scopes(),
		InitialScopes: initialScopes(cfg.initialScope, w.table.Scopes()),
		OnEvent: func(ctx context.Context, e oauth.Event) {
			om.oauthEvent(e)
			auditOAuth(ctx, trail, om, e)
		},
	})
	if err != nil {
		return err
	}
	w.auth = authServer
	w.onClose(func() { authServer.Close() })
	// What happens to a grant, in this process or another sharing the
	// store, reaches the MCP sessions held here through the bus.
	w.onClose(w.bus.Subscribe(func(e events.Event) {
		switch e.Kind {
		case events.GrantRevoked:
			// The grant's tokens are refused from now on; the sessions
			// they opened, and their open streams, end with them, and so
			// does the work they started as tasks (a slow image
			// generation need not finish for a client that lost access).
			mcpServer.CloseSessionsByCredential(e.Key)
			mcpServer.CancelTasksByCredential(e.Key)
		case events.GrantChanged:
			// Permissions decide which tools a user sees (tools/list is
			// computed per identity), so tell the live sessions opened
			// with this grant. The user's other grants (other clients)
			// still carry the identity they had until they refresh too,
			// so their sessions' lists have not changed yet.
			mcpServer.NotifyToolListChangedByCredential(e.Key)
		case events.StreamMessage:
			// What another replica relays for a session held here (a
			// client's response, a message for a stream), or for every
			// session (busRelay).
			resolveRelayed(st, logger, e, mcpServer.DeliverRelayed)
		case events.TaskMessage:
			// tasks/cancel or tasks/update received by another replica,
			// for a task running here.
			resolveRelayed(st, logger, e, mcpServer.DeliverTaskMessage)
		}
	}))
	return nil
}

// httpServer mounts the MCP endpoints behind the bearer check, the
// authorization server and the health checks, and builds the http.Server.
func (w *wiring) httpServer() {
	cfg, mux, basePath := w.cfg, w.mux, w.basePath
	mcpURL, sseURL := cfg.baseURL+"/mcp", cfg.baseURL+"/sse"
	httpOpts := mcp.HTTPOptions{
		SessionOwner:        oauth.SessionOwner,
		SessionCredential:   oauth.GrantCredential,
		AllowedOrigins:      append([]string{originOf(cfg.baseURL)}, cfg.allowedOrigins...),
		SessionIdleTimeout:  cfg.idleTimeout,
		MaxSessionsPerOwner: cfg.maxSessions,
		// The bound on work in flight per session (hostile clients that stop
		// reading: see HTTPOptions.MaxRequestsPerSession).
		MaxRequestsPerSession: cfg.maxInFlight,
	}
	if w.opts.Store != nil {
		// A store shared with other processes: so are Streamable HTTP
		// sessions, so that any of them serves a session any opened.
		httpOpts.Sessions = sessionDirectory{w.st}
		httpOpts.Relay = busRelay{w.bus, w.st}
	}
	mux.Handle(basePath+"/mcp", oauth.CORS(w.auth.RequireBearer(mcpURL, tagIdentity(w.mcp.StreamableHTTPHandler(httpOpts)))))
	sse := oauth.CORS(w.auth.RequireBearer(sseURL, tagIdentity(w.mcp.SSEHandler(httpOpts))))
	mux.Handle(basePath+"/sse", sse)
	mux.Handle(basePath+"/sse/message", sse)
	mux.Handle("/", w.auth.Handler())
	w.health = &health{store: w.st}
	w.health.mount(mux, basePath)

	w.srv = &http.Server{
		Handler: observeHTTP(w.om, w.logger, basePath, mux),
		// Headers must arrive promptly, and the whole request (headers and
		// body) within ReadTimeout, so a client that stalls mid-body is cut
		// off. ReadTimeout does not cut SSE streams: net/http clears the
		// read deadline once the body has been read. There is deliberately
		// no WriteTimeout, which would; streams set their own per-write
		// deadlines instead.
		ReadHeaderTimeout: min(10*time.Second, cfg.readTimeout),
		ReadTimeout:       cfg.readTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(w.logger.Handler(), slog.LevelWarn),
	}
}

// adminListener starts the loopback admin listener when -admin-addr asks.
func (w *wiring) adminListener() error {
	if w.cfg.adminAddr == "" {
		return nil
	}
	if !isLoopbackAddr(w.cfg.adminAddr) {
		return fmt.Errorf("-admin-addr %s: the admin listener is served on loopback only", w.cfg.adminAddr)
	}
	adm, addr, err := startAdmin(w.cfg.adminAddr, w.om)
	if err != nil {
		return err
	}
	w.onClose(func() { adm.Close() })
	w.logger.Info("admin listener", "metrics", "http://"+addr+"/metrics", "vars", "http://"+addr+"/debug/vars")
	return nil
}

// serve serves until ctx ends, then shuts down: unready, drain, streams,
// the listener.
func (w *wiring) serve(ctx context.Context) error {
	cfg, logger := w.cfg, w.logger
	errc := make(chan error, 1)
	go func() { errc <- w.srv.Serve(w.ln) }()
	logger.Info("serving MCP", "mcp", cfg.baseURL+"/mcp", "sse", cfg.baseURL+"/sse", "issuer", cfg.baseURL, "dev", w.dev)
	w.lw.Flush() // what start-up logged is there before anyone is told
	if w.opts.Ready != nil {
		w.opts.Ready <- w.ln.Addr().String()
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first: a balancer polling /readyz sees 503 and stops sending
	// new requests while the listener still serves the ones it sent.
	w.health.draining.Store(true)
	logger.Info("shutting down", "drain", cfg.shutdownDrain)
	if cfg.shutdownDrain > 0 {
		select {
		case <-time.After(cfg.shutdownDrain):
		case err := <-errc:
			return err
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Streams first: http.Server.Shutdown waits for active handlers, and an
	// open SSE stream would otherwise hold it until the timeout.
	_ = w.mcp.Shutdown(shutCtx)
	if err := w.srv.Shutdown(shutCtx); err != nil {
		return err
	}
	return nil
}

// demoUsers names the emulator's users for the banner: the ones -dev-users
// loaded, or the defaults, since the banner is how a person learns whom to
// sign in as. A long file is cut short rather than flooding the terminal.
func demoUsers(users []authkittest.User) string {
	const shown = 8
	var names []string
	for i, u := range users {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(users)-shown))
			break
		}
		names = append(names, u.Email)
	}
	return strings.Join(names, ", ")
}

func originOf(base string) string {
	u, _ := url.Parse(base)
	return u.Scheme + "://" + u.Host
}

// publishGoroutines guards expvar.Publish, which panics on a second call
// (tests start the server more than once in one process).
var publishGoroutines sync.Once

// startAdmin serves the metrics, expvar (with goroutine count and
// memstats) and a GC trigger on a separate loopback listener: for the
// operator's scraper and the load tool's before/after figures. It is never
// mounted on the public listener.
func startAdmin(addr string, om *opsMetrics) (io.Closer, string, error) {
	publishGoroutines.Do(func() {
		expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
	})
	m := http.NewServeMux()
	m.Handle("GET /metrics", om.reg.Handler())
	m.Handle("/debug/vars", expvar.Handler())
	m.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, r *http.Request) {
		// Two cycles: memory held by a finalizer or a sync.Pool's victim
		// cache is only released by the cycle after the one that finds it,
		// and readers of the live heap want the settled figure.
		runtime.GC()
		runtime.GC()
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	s := &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}
	go s.Serve(ln)
	return s, ln.Addr().String(), nil
}

// initialScopes is oauth.Config.InitialScopes for -initial-scope: nil for
// all, else the scopes no permission gates.
func initialScopes(mode string, scopes []oauth.Scope) []string {
	if mode != "baseline" {
		return nil
	}
	var out []string
	for _, sc := range scopes {
		if sc.Permission == "" {
			out = append(out, sc.Name)
		}
	}
	return out
}
