// Package oauth is an OAuth 2.1 authorization server for MCP clients, as the
// MCP authorization specification (2025-11-25, "Authorization") asks of one:
// metadata discovery (RFC 8414, RFC 9728), dynamic client registration
// (RFC 7591) and client ID metadata documents, the authorization code grant
// with PKCE (RFC 6749, RFC 7636, draft-ietf-oauth-v2-1), resource indicators
// (RFC 8707), token revocation (RFC 7009) and bearer token checks (RFC 6750)
// for the MCP endpoints.
//
// Who the user is comes from an upstream IdentityProvider (AuthKit); the
// tokens this package issues are its own, never the upstream's.
//
// Where each part lives:
//
//	server.go    Config, NewServer, Handler, the stored record kinds
//	metadata.go  RFC 8414 and RFC 9728 documents, CORS
//	clients.go   RFC 7591 registration, redirect URI rules, client authentication
//	cimd.go      client ID metadata documents and their SSRF guard
//	authorize.go authorization endpoint, consent, upstream sign-in, /callback
//	token.go     grants, codes, the token endpoint, refresh rotation, RFC 7009
//	bearer.go    RequireBearer and its token cache
//	secrets.go   token minting, hashing, AES-GCM sealing, HMAC, PKCE
//	pages.go     the HTML pages a person sees
//	store.go     the Store it keeps records in (package store's; the engines
//	             live there and know nothing of OAuth)
//	records.go   the binary stored form of grants, tokens and clients
//
// A request from an MCP client travels: 401 from RequireBearer naming the
// resource metadata -> discovery -> registration (or a metadata document
// URL as client_id) -> /authorize and consent -> the provider's sign-in ->
// /callback -> the client's redirect URI with a one-time code -> /token ->
// bearer requests; /token again to refresh, /revoke to end it.
package oauth
