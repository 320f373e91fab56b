// Package tools is the product's tool table: the tools an MCP client sees in
// tools/list and runs with tools/call (MCP 2025-11-25, "Server Features /
// Tools"), each gated by the caller's permissions and organization.
//
// A [Table] implements mcp.ToolSet. It answers per caller: the identity the
// bearer middleware put into the request context (oauth.IdentityFromContext)
// decides which tools are listed, and every call is checked again, because a
// client may call a tool it never listed, or call it after the caller lost a
// permission.
//
// Gating design. A tool the caller may not use is not listed, and calling it
// is refused with the JSON-RPC error the specification shows for an unknown
// tool, -32602 Invalid params, but with a message that names what is missing
// (a permission, an organization, a signed-in user), so that the person
// behind the client learns what to ask an administrator for. CallTool returns
// an [*AccessError], which converts itself (errors.As) into an
// *mcp.JSONRPCError carrying that message; it deliberately does not wrap
// mcp.ErrUnknownTool, because the server answers that sentinel with a
// generic "unknown tool" text that would hide the missing permission. A name
// that no tool has is an error wrapping mcp.ErrUnknownTool. We prefer a
// protocol error to an isError result because an isError result is
// addressed to the model as the outcome of a tool that ran; this tool did not
// run and, for this caller, is not on the list.
//
// Arguments are checked against the tool's declared input schema before its
// handler runs (a small subset of JSON Schema, see [Schema]), defaults are
// filled in, and a failure is an isError result that names the field and the
// rule, so that the model can correct itself (tools, "Error Handling").
//
// The image tool talks to an [ImageGenerator]: Workers AI, an
// OpenAI-compatible images endpoint, or an offline renderer that draws a
// deterministic PNG, chosen by [ImageGeneratorFromEnv].
package tools
