package oauth

// Discovery: authorization server metadata (RFC 8414) and protected
// resource metadata (RFC 9728), as MCP 2025-11-25 "Authorization Server
// Discovery" requires. Also the CORS policy for every endpoint a browser
// based MCP client calls with fetch.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// AuthorizationServerMetadata is the RFC 8414 s2 document, with the MCP
// client ID metadata document flag and RFC 9207's iss flag.
type AuthorizationServerMetadata struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	RegistrationEndpoint                   string   `json:"registration_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	ScopesSupported                        []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	ResponseModesSupported                 []string `json:"response_modes_supported"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported          []string `json:"code_challenge_methods_supported"`
	ServiceDocumentation                   string   `json:"service_documentation,omitempty"`
	// RFC 9207 s3: we put iss in every authorization response.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// MCP 2025-11-25 "Client ID Metadata Documents".
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported"`
}

// ProtectedResourceMetadata is the RFC 9728 s2 document for one MCP
// endpoint.
type ProtectedResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

var clientAuthMethods = []string{"none", "client_secret_basic", "client_secret_post"}

// Metadata returns this server's RFC 8414 metadata.
func (s *Server) Metadata() AuthorizationServerMetadata {
	return AuthorizationServerMetadata{
		Issuer:                                     s.cfg.Issuer,
		AuthorizationEndpoint:                      s.endpoint("/authorize"),
		TokenEndpoint:                              s.endpoint("/token"),
		RegistrationEndpoint:                       s.endpoint("/register"),
		RevocationEndpoint:                         s.endpoint("/revoke"),
		ScopesSupported:                            s.scopeNames(),
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported:          clientAuthMethods,
		RevocationEndpointAuthMethodsSupported:     clientAuthMethods,
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseIssParameterSupported: true,
		ClientIDMetadataDocumentSupported:          true,
	}
}

// handleServerMetadata implements RFC 8414 s3.
func (s *Server) handleServerMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD, OPTIONS")
		return
	}
	writeMetadata(w, s.Metadata())
}

// protectedResourceMetadataPath is where RFC 9728 s3.1 puts a resource's
// metadata: "/.well-known/oauth-protected-resource" inserted before the
// resource's path, e.g. /.well-known/oauth-protected-resource/mcp for
// https://host/mcp.
func protectedResourceMetadataPath(resource string) string {
	u, _ := url.Parse(resource) // validated by NewServer
	return "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.EscapedPath(), "/")
}

// ProtectedResourceMetadataURL returns the absolute URL of the RFC 9728
// document for resource, as named in WWW-Authenticate (RFC 9728 s5.1).
func ProtectedResourceMetadataURL(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + protectedResourceMetadataPath(resource)
}

func (s *Server) protectedResourceMetadataHandler(resource string) http.Handler {
	md := ProtectedResourceMetadata{
		Resource:               resource,
		AuthorizationServers:   []string{s.cfg.Issuer},
		BearerMethodsSupported: []string{"header"}, // RFC 6750 s2.1 only
		// MCP 2026-07-28 "Scope Selection Strategy": what a client asks
		// for first (Config.InitialScopes); more is asked for by step-up.
		// offline_access is never here ("Refresh Tokens": no requirement
		// of the resource).
		ScopesSupported: s.initialScopes(),
		ResourceName:    s.cfg.ServiceName,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD, OPTIONS")
			return
		}
		writeMetadata(w, md)
	})
}

func writeMetadata(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	// Metadata changes only with a redeploy; an hour of caching spares
	// clients a round trip per connection.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	json.NewEncoder(w).Encode(v)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// CORS (Fetch standard, "CORS protocol").

const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID"
	corsExposeHeaders = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version"
)

type corsPolicy struct {
	origins []string // empty: any origin
}

// CORS lets browser-based MCP clients (the MCP Inspector, web apps) call
// the wrapped handler from any origin: it answers preflight OPTIONS requests
// itself, without authentication, and exposes the MCP and OAuth response
// headers a client must read. Any origin is safe because these endpoints
// authenticate with a bearer token the page must hold, never with cookies,
// so Allow-Credentials is never sent. main.go wraps /mcp and /sse with it;
// the Origin check against DNS rebinding is a separate concern of the MCP
// transport.
func CORS(next http.Handler) http.Handler {
	return corsPolicy{}.wrap(next)
}

func (p corsPolicy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (len(p.origins) == 0 || slices.Contains(p.origins, origin))
		h := w.Header()
		if len(p.origins) > 0 {
			// The answer depends on Origin whether or not this one is
			// allowed, so caches must key on it (Fetch, "CORS protocol and
			// HTTP caches").
			h.Add("Vary", "Origin")
		}
		if allowed {
			if len(p.origins) == 0 {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		if r.Method == http.MethodOptions {
			// A preflight carries no credentials, so it is answered here
			// before any authentication.
			if allowed {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "86400")
			}
			h.Set("Allow", corsAllowMethods)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
