package oauth

// Scopes (RFC 6749 s3.3): what a client may do with a token, narrowed three
// times. A token carries the scopes the client asked for, that the person
// approved on the consent page, and that the person's upstream permissions
// allow, re-narrowed at each refresh (RFC 6749 s6: never wider than
// approved). MCP 2026-07-28 "Scope Selection Strategy" and "Scope Challenge
// Handling" say how clients choose them and step up.

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// Scope is one scope a client may request. The server that embeds this
// package derives them from what it protects (main.go: from the tool
// table), so the package knows nothing of tools.
type Scope struct {
	// Name is the scope token (RFC 6749 s3.3: printable ASCII without
	// space, '"' or '\').
	Name string
	// Description tells a person, on the consent page, what the scope lets
	// the client do.
	Description string
	// Permission is the upstream permission (Identity.Permissions) a person
	// must hold for the scope to be granted; "" for a baseline scope,
	// granted to anyone signed in.
	Permission string
}

// ScopeOfflineAccess is the scope a client may add to ask for a refresh
// token (MCP 2026-07-28 "Refresh Tokens", OpenID Connect Core s11). It is in
// the authorization server metadata only, never in the protected resource
// metadata or a challenge, since it is no requirement of the resource. This
// server issues a refresh token to every client that registered the
// refresh_token grant type, asked or not, so the scope is accepted and
// echoed and changes nothing else.
const ScopeOfflineAccess = "offline_access"

// maxScopeName bounds one scope token, so that every scope string we store
// or put in a cookie stays small.
const maxScopeName = 128

// checkScopes validates Config.Scopes and Config.InitialScopes.
func checkScopes(scopes []Scope, initial []string) error {
	seen := map[string]bool{}
	for _, sc := range scopes {
		if !validScopeToken(sc.Name) {
			return fmt.Errorf("oauth: scope %q is not a valid scope token (RFC 6749 s3.3), or longer than %d bytes", sc.Name, maxScopeName)
		}
		if sc.Name == ScopeOfflineAccess {
			return fmt.Errorf("oauth: scope %q is handled by the server itself; do not configure it", sc.Name)
		}
		if seen[sc.Name] {
			return fmt.Errorf("oauth: scope %q is declared twice", sc.Name)
		}
		seen[sc.Name] = true
	}
	for _, n := range initial {
		if !seen[n] {
			return fmt.Errorf("oauth: initial scope %q is not one of Config.Scopes", n)
		}
	}
	return nil
}

// validScopeToken reports whether s is a scope-token, RFC 6749 s3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > maxScopeName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// scopeNames lists every scope a client may request: Config.Scopes, then
// offline_access. Empty when scopes are not used.
func (s *Server) scopeNames() []string {
	if len(s.cfg.Scopes) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.cfg.Scopes)+1)
	for _, sc := range s.cfg.Scopes {
		names = append(names, sc.Name)
	}
	return append(names, ScopeOfflineAccess)
}

// initialScopes lists the scopes a client should ask for first
// (Config.InitialScopes): what the 401 challenge and the protected resource
// metadata name. Never offline_access (MCP 2026-07-28 "Refresh Tokens").
func (s *Server) initialScopes() []string {
	if len(s.cfg.InitialScopes) > 0 {
		return s.ordered(s.cfg.InitialScopes)
	}
	var names []string
	for _, sc := range s.cfg.Scopes {
		names = append(names, sc.Name)
	}
	return names
}

func (s *Server) scope(name string) (Scope, bool) {
	if name == ScopeOfflineAccess {
		return Scope{Name: name, Description: "Stay connected: keep access without asking you again, until you revoke it."}, true
	}
	for _, sc := range s.cfg.Scopes {
		if sc.Name == name {
			return sc, true
		}
	}
	return Scope{}, false
}

// requestedScopes resolves the scope parameter of an authorization request
// (RFC 6749 s3.3). A request naming no scope gets every scope this server
// offers, offline_access aside: the server's documented default, which is
// what every token carried before scopes existed, so that a client that
// knows nothing of scopes keeps working; the consent page and the person's
// permissions narrow it as for any request; so does a request for
// offline_access alone, which names no scope of the resource. A scope the
// server never offered is refused (invalid_scope), not ignored, so that a
// client learns of its mistake. The result keeps the server's order and no
// duplicate.
func (s *Server) requestedScopes(param string) ([]string, error) {
	if len(s.cfg.Scopes) == 0 {
		return nil, nil // scopes unused: permissions come from the Identity
	}
	fields := strings.Fields(param)
	for _, f := range fields {
		if _, ok := s.scope(f); !ok {
			// The value is not repeated: before approval this text is
			// shown on our page, which repeats nothing from the request.
			return nil, fmt.Errorf("the scope parameter names a scope this server does not offer; it offers: %s", strings.Join(s.scopeNames(), " "))
		}
	}
	if !hasResourceScope(fields) {
		for _, sc := range s.cfg.Scopes {
			fields = append(fields, sc.Name)
		}
	}
	return s.ordered(fields), nil
}

// ordered returns the known scopes among names in the server's order.
func (s *Server) ordered(names []string) []string {
	out := []string{}
	for _, n := range s.scopeNames() {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out
}

// permitted narrows approved scopes to those id's permissions allow: the
// scopes actually granted. offline_access passes; a scope the server no
// longer offers is dropped. The result is never nil, so that an identity
// that holds no scope at all is told apart from one not limited by scopes.
func (s *Server) permitted(approved []string, id *Identity) []string {
	out := []string{}
	for _, n := range approved {
		sc, ok := s.scope(n)
		if ok && (sc.Permission == "" || id.HasPermission(sc.Permission)) {
			out = append(out, n)
		}
	}
	return out
}

// hasResourceScope reports whether scopes hold anything but offline_access.
func hasResourceScope(scopes []string) bool {
	for _, n := range scopes {
		if n != ScopeOfflineAccess {
			return true
		}
	}
	return false
}

// subset reports whether every scope in a is in b.
func subset(a, b []string) bool {
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

// intersect returns the scopes of a that are also in b, in a's order,
// never nil.
func intersect(a, b []string) []string {
	out := []string{}
	for _, n := range a {
		if slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// approvedOf is a grant's approved scope list. A grant stored before
// scopes existed approved none explicitly: it gets what tokens carried
// then, every scope offered.
func (s *Server) approvedOf(g *grant) []string {
	if g.Scope == "" {
		all, _ := s.requestedScopes("")
		return all
	}
	return strings.Fields(g.Scope)
}

// encodeScopes and decodeScopes carry a scope list in a cookie value,
// whose alphabet excludes some scope characters.
func encodeScopes(scopes []string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(scopes, " ")))
}

func decodeScopes(v string) ([]string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	return strings.Fields(string(b)), true
}

// InsufficientScopeChallenge is the WWW-Authenticate value of a 403 for a
// request that needs scopes its token lacks (RFC 6750 s3.1; MCP 2026-07-28
// "Runtime Insufficient Scope Errors"): error="insufficient_scope", scope
// naming the scopes id already holds plus the needed ones (offline_access
// left out: it is no requirement of the resource), resource_metadata as in
// the 401, and desc as error_description. desc must not contain '"' or '\'.
func InsufficientScopeChallenge(id *Identity, needed []string, desc string) string {
	var all []string
	if id != nil {
		for _, n := range id.Scopes {
			if n != ScopeOfflineAccess && !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	for _, n := range needed {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	v := `Bearer error="insufficient_scope", scope="` + strings.Join(all, " ") + `"`
	if id != nil && id.Resource != "" {
		v += `, resource_metadata="` + ProtectedResourceMetadataURL(id.Resource) + `"`
	}
	if desc != "" {
		v += `, error_description="` + desc + `"`
	}
	return v
}
