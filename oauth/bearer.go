package oauth

// Bearer token checks for the MCP endpoints: RFC 6750 s2.1 (Authorization
// header only), s3 (WWW-Authenticate), RFC 9728 s5.1 (resource_metadata),
// RFC 8707 and MCP 2025-11-25 "Token Audience Binding and Validation".

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"remote-mcp-authkit/events"
)

const (
	maxBearerLen    = 512
	recheckInterval = 30 * time.Second
)

// tokenCache maps the SHA-256 of an access token to what the bearer check
// needs, so that the common request costs one hash and one lookup that
// takes no lock (a read lock's shared counter, written by every core on
// every request, costs more than the lookup). The store stays authoritative: a miss loads from it,
// revocation in this process updates the cache at once, and a cached token
// is checked against the store again every recheckInterval, so that with
// several processes sharing one store a revocation (or an identity change
// at refresh) made by another process takes effect here within that time.
type tokenCache struct {
	tokens    sync.Map // [32]byte -> *accessEntry; changed under mu
	mu        sync.RWMutex
	grants    map[string]*grantEntry
	nextSweep time.Time
}

// token returns the cached entry of the token whose SHA-256 is key.
func (c *tokenCache) token(key [32]byte) *accessEntry {
	e, _ := c.tokens.Load(key)
	ae, _ := e.(*accessEntry)
	return ae
}

// count says how many tokens are cached, for tests.
func (c *tokenCache) count() int {
	n := 0
	c.tokens.Range(func(any, any) bool { n++; return true })
	return n
}

type accessEntry struct {
	grant    *grantEntry
	narrow   []string // the token's scopes below its grant's (accessRecord.Scope); nil: the grant's
	resource string   // without trailing slash
	expires  int64    // unix nanoseconds
	grantID  string
	checked  atomic.Int64 // unix nanoseconds of the last look at the store
}

// grantEntry is shared by all cached tokens of a grant, so that revoking
// the grant or changing its identity reaches all of them in one step.
type grantEntry struct {
	identity atomic.Pointer[Identity] // read-only once stored
	revoked  atomic.Bool
}

func (c *tokenCache) init() {
	c.grants = map[string]*grantEntry{}
}

// add caches an access token (its hash, never the token itself).
func (c *tokenCache) add(token string, ar *accessRecord, id *Identity, now time.Time) {
	c.put(sha256.Sum256([]byte(token)), ar, id, now)
}

func (c *tokenCache) put(key [32]byte, ar *accessRecord, id *Identity, now time.Time) *accessEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.nextSweep) {
		// Drop expired tokens, then grants no cached token refers to, so
		// the cache holds only what live tokens need.
		n := now.UnixNano()
		live := make(map[*grantEntry]bool, len(c.grants))
		c.tokens.Range(func(k, v any) bool {
			if e := v.(*accessEntry); n >= e.expires || e.grant.revoked.Load() {
				c.tokens.Delete(k)
			} else {
				live[e.grant] = true
			}
			return true
		})
		for id, g := range c.grants {
			if !live[g] {
				delete(c.grants, id)
			}
		}
		c.nextSweep = now.Add(time.Minute)
	}
	g := c.grants[ar.GrantID]
	if g == nil {
		g = &grantEntry{}
		idCopy := *id
		g.identity.Store(&idCopy)
		c.grants[ar.GrantID] = g
	}
	e := &accessEntry{grant: g, resource: strings.TrimSuffix(ar.Resource, "/"), expires: ar.ExpiresAt.UnixNano(), grantID: ar.GrantID}
	if ar.Scope != "" {
		e.narrow = strings.Fields(ar.Scope)
	}
	e.checked.Store(now.UnixNano())
	c.tokens.Store(key, e)
	return e
}

// dropHash forgets an access token given its hex SHA-256 (hashToken).
func (c *tokenCache) dropHash(h string) {
	var key [32]byte
	if len(h) != hex.EncodedLen(len(key)) {
		return
	}
	if _, err := hex.Decode(key[:], []byte(h)); err != nil {
		return
	}
	c.forget(key)
}

// forget drops the cached access token whose SHA-256 is key.
func (c *tokenCache) forget(key [32]byte) {
	c.mu.Lock()
	c.tokens.Delete(key)
	c.mu.Unlock()
}

func (c *tokenCache) revokeGrant(id string) {
	c.mu.Lock()
	if g := c.grants[id]; g != nil {
		g.revoked.Store(true)
		delete(c.grants, id)
	}
	c.mu.Unlock()
}

// dropGrant forgets every cached token of a grant, so that the next
// request with one reads the grant (and its identity) from the store.
func (c *tokenCache) dropGrant(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.grants[id] == nil {
		return
	}
	delete(c.grants, id)
	c.tokens.Range(func(k, v any) bool {
		if v.(*accessEntry).grantID == id {
			c.tokens.Delete(k)
		}
		return true
	})
}

// clear forgets everything: what it held may have been revoked or changed
// by an event this process missed.
func (c *tokenCache) clear() {
	c.mu.Lock()
	c.tokens.Clear()
	c.grants = map[string]*grantEntry{}
	c.mu.Unlock()
}

// onEvent keeps the cache exact as other processes sharing the store (and
// this one) revoke, change and rotate (Config.Events).
func (s *Server) onEvent(e events.Event) {
	switch e.Kind {
	case events.GrantRevoked:
		s.cache.revokeGrant(e.Key)
	case events.GrantChanged:
		s.cache.dropGrant(e.Key)
	case events.TokenDropped:
		s.cache.dropHash(e.Key)
	case events.Resync:
		s.cache.clear()
	}
}

// publish announces a change already stored. A failure is logged only:
// other processes then see the change when they next recheck the store
// (recheckInterval).
func (s *Server) publish(ctx context.Context, kind events.Kind, key string) {
	if err := s.cfg.Events.Publish(context.WithoutCancel(ctx), events.Event{Kind: kind, Key: key}); err != nil {
		s.log.Warn("oauth: publishing an event", "kind", kind.String(), "err", err)
	}
}

// Close stops the server listening to Config.Events. A server that shares
// a bus which outlives it calls Close when done; nothing else needs it.
func (s *Server) Close() {
	if s.unsubscribe != nil {
		s.unsubscribe()
	}
}

func (c *tokenCache) setIdentity(grantID string, id *Identity) {
	idCopy := *id
	c.mu.RLock()
	if g := c.grants[grantID]; g != nil {
		g.identity.Store(&idCopy)
	}
	c.mu.RUnlock()
}

var (
	errTokenUnknown = errors.New("the access token is invalid, expired or revoked")
	errTokenStore   = errors.New("token lookup failed")
)

// lookupAccess finds a live access token: cache first, then store.
func (s *Server) lookupAccess(ctx context.Context, token string) (*accessEntry, error) {
	// Hash from a stack buffer: converting a string longer than 32 bytes
	// to []byte would allocate on every request.
	var buf [maxBearerLen]byte
	key := sha256.Sum256(buf[:copy(buf[:], token)])
	now := s.now()
	e := s.cache.token(key)
	if e != nil {
		n := now.UnixNano()
		if n >= e.expires || e.grant.revoked.Load() {
			return nil, errTokenUnknown
		}
		if n-e.checked.Load() > int64(recheckInterval) && !s.recheck(ctx, key, e, n) {
			return nil, errTokenUnknown
		}
		return e, nil
	}
	var ar accessRecord
	if err := s.getJSON(ctx, kindAccess, hex.EncodeToString(key[:]), &ar); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errTokenUnknown
		}
		s.log.Error("oauth: access token lookup", "err", err)
		return nil, errTokenStore
	}
	if !now.Before(ar.ExpiresAt) {
		return nil, errTokenUnknown
	}
	var g grant
	if err := s.getJSON(ctx, kindGrant, ar.GrantID, &g); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errTokenUnknown // the grant was revoked
		}
		s.log.Error("oauth: grant lookup", "err", err)
		return nil, errTokenStore
	}
	e = s.cache.put(key, &ar, &g.Identity, now)
	// A revocation that ran after the reads above found nothing cached to
	// mark, so look again now that the entry is visible to it: whichever
	// comes last, the revocation or this check, sees the other.
	if !s.recheck(ctx, key, e, now.UnixNano()) {
		return nil, errTokenUnknown
	}
	return e, nil
}

// recheck looks at the store again for a cached token: is the token still
// there, is its grant, and what identity does the grant now carry? A store
// error keeps the cached answer: an outage of the store must not sign
// everyone out.
func (s *Server) recheck(ctx context.Context, key [32]byte, e *accessEntry, now int64) bool {
	e.checked.Store(now) // first: concurrent requests do not all go to the store
	if _, err := s.cfg.Store.Get(ctx, kindAccess, hex.EncodeToString(key[:])); errors.Is(err, ErrNotFound) {
		s.cache.forget(key)
		return false
	}
	var g grant
	switch err := s.getJSON(ctx, kindGrant, e.grantID, &g); {
	case errors.Is(err, ErrNotFound):
		s.cache.revokeGrant(e.grantID)
		return false
	case err == nil:
		// Most rechecks find the identity unchanged: keep the cached one.
		// A changed one is copied out, since a pointer into g would keep
		// the whole decoded grant (sealed upstream session, refresh
		// history) alive for as long as the token stays cached.
		if cur := e.grant.identity.Load(); cur == nil || !reflect.DeepEqual(*cur, g.Identity) {
			id := g.Identity
			e.grant.identity.Store(&id)
		}
	}
	return true
}

// identity is who the token speaks for: its grant's identity, with the
// scopes narrowed when the token was issued for fewer (RFC 6749 s6). Only
// a narrowed token costs a copy.
func (e *accessEntry) identity() *Identity {
	id := e.grant.identity.Load()
	if e.narrow == nil {
		return id
	}
	cp := *id
	if cp.Scopes == nil {
		cp.Scopes = e.narrow
	} else {
		cp.Scopes = intersect(e.narrow, cp.Scopes)
	}
	return &cp
}

// RequireBearer protects next, the MCP endpoint whose resource URL is
// resource (one of Config.Resources). A request passes with an
// "Authorization: Bearer" access token that we issued, that has not expired
// or been revoked, and whose audience is this resource; next then finds the
// user through IdentityFromContext (ClientID and GrantID set). The Identity
// is shared between requests: treat it as read-only.
//
// Otherwise the answer is 401 with a WWW-Authenticate challenge naming the
// resource's RFC 9728 metadata, which is how an MCP client discovers where
// to sign in (MCP 2025-11-25 "Protected Resource Metadata Discovery").
func (s *Server) RequireBearer(resource string, next http.Handler) http.Handler {
	want := strings.TrimSuffix(resource, "/")
	challenge := `Bearer resource_metadata="` + ProtectedResourceMetadataURL(resource) + `"`
	if first := s.initialScopes(); len(first) > 0 {
		// MCP 2026-07-28 "Scope Selection Strategy": the scopes to request
		// first (Config.InitialScopes); more is asked for by step-up.
		challenge += `, scope="` + strings.Join(first, " ") + `"`
	}
	hostHint := newHostHint(resource, s.log)
	deny := func(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
		v := challenge
		if code != "" {
			// RFC 6750 s3: error and error_description are quoted strings;
			// desc is ours and contains no quote or backslash.
			v += `, error="` + code + `", error_description="` + desc + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
		w.Header().Set("Cache-Control", "no-store")
		body := http.StatusText(status) + ": " + desc
		if status == http.StatusUnauthorized {
			body += hostHint.check(r)
		}
		http.Error(w, body, status)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// RFC 6750 s2.3: a token in the URL leaks into logs and history;
		// we support only the header and refuse the query form outright.
		if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
			deny(w, r, http.StatusBadRequest, "invalid_request", "access tokens in the query string are not accepted; send an Authorization: Bearer header")
			return
		}
		auth := r.Header["Authorization"]
		if len(auth) == 0 {
			// RFC 6750 s3.1: no credentials, no error code.
			deny(w, r, http.StatusUnauthorized, "", "authorization required")
			return
		}
		if len(auth) > 1 {
			deny(w, r, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
			return
		}
		scheme, token, _ := strings.Cut(auth[0], " ")
		if !strings.EqualFold(scheme, "Bearer") {
			deny(w, r, http.StatusUnauthorized, "", "authorization required (Bearer)")
			return
		}
		token = strings.TrimSpace(token)
		if token == "" || len(token) > maxBearerLen {
			deny(w, r, http.StatusUnauthorized, "invalid_token", "malformed access token")
			return
		}
		e, err := s.lookupAccess(r.Context(), token)
		if err != nil {
			if errors.Is(err, errTokenStore) {
				w.Header().Set("Retry-After", "5")
				http.Error(w, "token lookup failed, retry", http.StatusServiceUnavailable)
				return
			}
			deny(w, r, http.StatusUnauthorized, "invalid_token", err.Error())
			return
		}
		if e.resource != want {
			// MCP 2025-11-25 "Access Token Privilege Restriction": a token
			// for another resource must be refused (no token passthrough).
			deny(w, r, http.StatusUnauthorized, "invalid_token", "the access token was issued for another resource")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), e.identity())))
	})
}

// hostHint makes a mismatch between the host a client used and the
// resource's host diagnosable. Tokens and the protected resource metadata
// are bound to the resource URL exactly (RFC 8707, RFC 9728 s3.3), so a
// client told http://127.0.0.1:8788/mcp by its user, when the server's
// resource is http://localhost:8788/mcp, meets a 401 whose metadata names
// another resource and gives up with an error about the resource that
// does not say why. The 401's body says it, and the log says it once in a
// while (a proxy that rewrites Host would otherwise repeat it on every
// request).
type hostHint struct {
	host     string // the resource's host, lower case, default port removed
	resource string
	log      *slog.Logger
	next     atomic.Int64 // unix nanoseconds before which no line is logged
}

// hostHintEvery bounds the log lines about mismatched hosts.
const hostHintEvery = 10 * time.Minute

func newHostHint(resource string, log *slog.Logger) *hostHint {
	u, err := url.Parse(resource)
	if err != nil {
		return &hostHint{}
	}
	return &hostHint{host: canonicalHost(u.Scheme, u.Host), resource: resource, log: log}
}

// canonicalHost is host:port in lower case without the scheme's default
// port, so that "Localhost:80" and "localhost" compare equal.
func canonicalHost(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

// check returns the note for a 401's body when r came to another host
// than the resource's ("" when it did not), and logs it at most once per
// hostHintEvery.
func (h *hostHint) check(r *http.Request) string {
	if h.host == "" || r == nil {
		return ""
	}
	scheme := "http"
	if strings.HasPrefix(h.resource, "https:") {
		scheme = "https"
	}
	got := canonicalHost(scheme, r.Host)
	if got == h.host || len(r.Host) > 255 {
		return ""
	}
	if next, now := h.next.Load(), time.Now().UnixNano(); h.log != nil && now >= next &&
		h.next.CompareAndSwap(next, now+int64(hostHintEvery)) {
		h.log.Warn("oauth: a request came to another host than the resource's; clients must use the resource URL exactly, and the server's public base URL decides it",
			"request_host", r.Host, "resource", h.resource, "next_note_after", hostHintEvery)
	}
	return "\nnote: this request came to host " + r.Host + ", but this server's resource is " + h.resource +
		"; a client must use that URL exactly (tokens and metadata are bound to it, and localhost and 127.0.0.1 are different hosts)." +
		" Behind a proxy that rewrites the Host header, ignore this note."
}
