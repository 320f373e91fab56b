package oauth

// The few HTML pages a person sees: consent, and errors that must not be
// redirected to a client we cannot trust.

import (
	"html/template"
	"net/http"
)

// pageHeaders keep our pages out of frames (clickjacking a consent button,
// RFC 9700 s4.16), out of caches, and free of any script.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with our own consent form, and one without
	// Sec-Fetch-Site would then fail the origin check. No other site gets
	// anything.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

const pageStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222;overflow-wrap:anywhere}
h1{font-size:1.4rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.25rem}.box>:first-child{margin-top:0}.box>:last-child{margin-bottom:0}
code{background:#f3f3f3;padding:0 .25rem;border-radius:4px}
button{font:inherit;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:6px;border:1px solid #888;cursor:pointer}
button.primary{background:#1f5fd6;color:#fff;border-color:#1f5fd6}.muted{color:#666;font-size:.9rem}
fieldset.scopes{border:1px solid #ccc;border-radius:8px;margin:0 0 1rem;padding:.5rem 1.25rem}fieldset.scopes label{display:block;margin:.4rem 0}`

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Allow access? · {{.Service}}</title><style>` + pageStyle + `</style></head>
<body><h1>Allow <strong><bdi>{{.ClientName}}</bdi></strong> to use {{.Service}}?</h1>
<div class="box">
<p><strong><bdi>{{.ClientName}}</bdi></strong>{{if .ClientHost}} (from <code><bdi>{{.ClientHost}}</bdi></code>){{else}} (a name the application chose; this server has not verified it){{end}} wants to use this server's MCP tools <strong>as you</strong>, {{if or .Scopes .Known}}within your permissions and what you allow below{{else}}with your permissions{{end}}, until you revoke its access.</p>
<p>After you sign in, you will be sent back to <code><bdi>{{.RedirectHost}}</bdi></code> (<code><bdi>{{.RedirectURI}}</bdi></code>).</p>
{{if .LocalWarning}}<p><strong>Check:</strong> this application returns to a program on your own computer. Any program on this computer could claim to be <bdi>{{.ClientName}}</bdi>; allow only if you just started it yourself.</p>{{end}}
<p class="muted">Resource: <code>{{.Resource}}</code></p>
</div>
<p class="muted">Only allow applications you started yourself. If you did not just connect an MCP client, choose Deny.</p>
<form method="post" action="{{.Action}}">
{{if or .Scopes .Known}}<fieldset class="scopes"><legend>{{if not .Scopes}}It asks again for what you allowed before.{{else if .Known}}It now also asks to:{{else}}It asks to:{{end}}</legend>
{{range .Scopes}}<label>{{if .Fixed}}<input type="checkbox" checked disabled>{{else}}<input type="checkbox" name="scope" value="{{.Name}}" checked>{{end}} {{.Description}} <code>{{.Name}}</code></label>
{{end}}<p class="muted">{{if .Scopes}}Untick what you do not want to allow; the application can ask again when it needs it.{{end}}{{if .Known}} Already allowed: {{range $i, $n := .Known}}{{if $i}}, {{end}}<code>{{$n}}</code>{{end}}.{{end}}</p></fieldset>
{{end}}<input type="hidden" name="pending" value="{{.Pending}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button class="primary" type="submit" name="decision" value="approve">Allow and sign in</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>`))

// consentData fills consentPage. Every field the client chose (its name,
// host and redirect URI) is rendered inside <bdi>, so that whatever
// direction its text takes stays inside it (HTML s4.5.23) and cannot turn
// our own words around it.
type consentData struct {
	Service, ClientName, ClientHost, RedirectHost, RedirectURI string
	Resource                                                   string
	Action, Pending, CSRF                                      string
	LocalWarning                                               bool
	// Scopes are the requested scopes this browser has not approved for
	// the client yet, each with a box (RFC 6749 s3.3: the person may grant
	// fewer); Known are those approved before, named only.
	Scopes []consentScope
	Known  []string
}

// consentScope is one scope on the consent page, in the server's words.
// Fixed ones (offline_access) are shown without a choice.
type consentScope struct {
	Name, Description string
	Fixed             bool
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{.Service}}</title><style>` + pageStyle + `</style></head>
<body><h1>{{.Title}}</h1><div class="box"><p>{{.Message}}</p><p>{{.Action}}</p></div></body></html>`))

// showError renders an error page. It is used instead of an OAuth error
// redirect whenever the redirect target itself is in doubt (RFC 6749
// s4.1.2.1: unknown client or bad redirect_uri must not redirect).
func (s *Server) showError(w http.ResponseWriter, status int, title, message, action string) {
	pageHeaders(w)
	w.WriteHeader(status)
	errorPage.Execute(w, struct{ Service, Title, Message, Action string }{s.cfg.ServiceName, title, message, action})
}
