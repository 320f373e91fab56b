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
package oauth
