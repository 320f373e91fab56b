package mcp

// HTTP checks shared by both transports: Origin (transports, "Security
// Warning"), Accept, body limits, owner binding, and errors as JSON-RPC
// error bodies.

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	defaultMaxBody      = 4 << 20
	defaultKeepAlive    = 15 * time.Second
	defaultIdleTimeout  = 30 * time.Minute
	defaultWriteTimeout = 10 * time.Second
	defaultMaxSessions  = 100
	defaultMaxRequests  = 16
	defaultMaxQueued    = 4 << 20
)

func (o *HTTPOptions) maxBody() int64 {
	if o.MaxBodyBytes > 0 {
		return o.MaxBodyBytes
	}
	return defaultMaxBody
}

func (o *HTTPOptions) maxSessions() int {
	if o.MaxSessionsPerOwner > 0 {
		return o.MaxSessionsPerOwner
	}
	return defaultMaxSessions
}

func (o *HTTPOptions) maxRequests() int {
	if o.MaxRequestsPerSession > 0 {
		return o.MaxRequestsPerSession
	}
	return defaultMaxRequests
}

func (o *HTTPOptions) maxQueuedBytes() int {
	if o.MaxQueuedBytes > 0 {
		return o.MaxQueuedBytes
	}
	return defaultMaxQueued
}

func (o *HTTPOptions) keepAlive() time.Duration {
	if o.KeepAlive > 0 {
		return o.KeepAlive
	}
	return defaultKeepAlive
}

func (o *HTTPOptions) idleTimeout() time.Duration {
	if o.SessionIdleTimeout > 0 {
		return o.SessionIdleTimeout
	}
	return defaultIdleTimeout
}

func (o *HTTPOptions) writeTimeout() time.Duration {
	if o.WriteTimeout > 0 {
		return o.WriteTimeout
	}
	return defaultWriteTimeout
}

func (o *HTTPOptions) owner(r *http.Request) string {
	if o.SessionOwner == nil {
		return ""
	}
	return o.SessionOwner(r)
}

// sessionFor makes the session a request opens (an initialize, or the
// HTTP+SSE GET): a fresh id, and the owner, credential and idle timeout
// that opts give for r.
func (s *Server) sessionFor(r *http.Request, opts *HTTPOptions, legacy bool) *Session {
	sess := s.newSession(newSessionID(), opts.owner(r), legacy, opts.idleTimeout())
	sess.cred = opts.credential(r)
	return sess
}

// codeServerBusy is the JSON-RPC error of a request refused at the
// session's bounds, from the range JSON-RPC 2.0 section 5.1 leaves to
// implementation-defined server errors.
const codeServerBusy = -32000

// retryAfterSeconds is the Retry-After of that refusal: long enough for a
// client that reads its stream to catch up.
const retryAfterSeconds = "1"

// admit takes one of the session's request slots (a request, or a
// batch, whose answer is yet to be written) for m, or answers 429 Too
// Many Requests with Retry-After (RFC 6585 section 4; RFC 9110 section
// 10.2.3) and a JSON-RPC error: at HTTPOptions.MaxRequestsPerSession, and,
// when the answer will wait on the session's stream st, while that
// stream's client has HTTPOptions.MaxQueuedBytes or more still to read.
// The caller gives the slot back with sess.leave.
func admit(w http.ResponseWriter, sess *Session, opts *HTTPOptions, m *message, st *stream) bool {
	var id []byte
	if m != nil {
		id = m.ID
	}
	var err *JSONRPCError
	if st != nil {
		if q, limit := st.queued(), opts.maxQueuedBytes(); q >= limit {
			err = &JSONRPCError{Code: codeServerBusy, Message: fmt.Sprintf(
				"server busy: this session's stream holds %d bytes its client has not read (the limit is %d); read the stream, then retry", q, limit)}
		}
	}
	if err == nil {
		limit := opts.maxRequests()
		if sess.enter(limit) {
			return true
		}
		err = &JSONRPCError{Code: codeServerBusy, Message: fmt.Sprintf(
			"server busy: this session already has %d requests in progress, the limit; retry once one is answered", limit)}
	}
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeError(w, http.StatusTooManyRequests, id, err)
	return false
}

// ownerMatches compares in constant time, so that response timing does not
// reveal how much of another user's owner string a request got right.
func ownerMatches(sess *Session, owner string) bool {
	return subtle.ConstantTimeCompare([]byte(sess.owner), []byte(owner)) == 1
}

// newSessionID returns a session id from crypto/rand: 26 base32 characters,
// all visible ASCII as the spec requires (transports, "Session Management").
func newSessionID() string { return rand.Text() }

// checkOrigin answers 403 to a request whose Origin is not allowed, for
// both transports, and reports whether the request may go on.
func checkOrigin(w http.ResponseWriter, r *http.Request, allowed []string) bool {
	if originAllowed(r, allowed) {
		return true
	}
	writeError(w, http.StatusForbidden, nil, NewInvalidRequest("forbidden: Origin %q is not allowed", truncate(r.Header.Get("Origin"), maxEchoedName)))
	return false
}

// originAllowed implements the DNS rebinding defence: a request that
// carries an Origin must come from an allowed origin or a loopback origin.
// The request's own Host is deliberately not trusted: a rebinding page is
// served from the attacker's name, so its Origin always equals the Host it
// sends. A request without Origin (not from a browser) passes;
// authentication guards it.
func originAllowed(r *http.Request, allowed []string) bool {
	origin := headerValue(r.Header, "Origin")
	if origin == "" {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// headerValue is Header.Get for a key already in canonical form
// (textproto.CanonicalMIMEHeaderKey), as net/http stores received header
// names: it spares canonicalizing the same constant keys on every request.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// accepts reports whether the Accept header admits the media type mt
// ("type/subtype"), counting wildcards.
func accepts(r *http.Request, mt string) bool {
	typ, _, _ := strings.Cut(mt, "/")
	for _, line := range r.Header["Accept"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ",")
			media, _, _ := strings.Cut(part, ";")
			media = strings.TrimSpace(media)
			if strings.EqualFold(media, mt) || media == "*/*" ||
				(strings.HasSuffix(media, "/*") && strings.EqualFold(media[:len(media)-2], typ)) {
				return true
			}
		}
	}
	return false
}

// jsonContentType reports whether a request's Content-Type is JSON (or
// absent, which lenient clients do).
func jsonContentType(r *http.Request) bool {
	ct := headerValue(r.Header, "Content-Type")
	if ct == "" {
		return true
	}
	media, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(media), "application/json")
}

// readBody checks that a POSTed body is JSON (415 if not) and reads it
// whole, capped by MaxBodyBytes (413 past the cap, 400 for a broken body).
// On failure the error response is written and ok is false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	if !jsonContentType(r) {
		writeError(w, http.StatusUnsupportedMediaType, nil, NewInvalidRequest("unsupported media type: the body must be application/json"))
		return nil, false
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, nil, NewInvalidRequest("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit))
		return nil, false
	}
	var (
		buf []byte
		err error
	)
	if r.ContentLength >= 0 {
		// A declared length within the limit bounds the read by itself:
		// exactly that many bytes are read, and net/http ends the body there.
		buf = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, buf)
	} else {
		buf, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, nil, NewInvalidRequest("request body exceeds the limit of %d bytes", limit))
		} else {
			writeError(w, http.StatusBadRequest, nil, NewParseError("could not read the request body: %v", err))
		}
		return nil, false
	}
	return buf, true
}

// writeError answers with an HTTP status and a JSON-RPC error body. The id
// is that of the request when known, else null (transports: the body "MAY
// comprise a JSON-RPC error response that has no id").
func writeError(w http.ResponseWriter, status int, id []byte, err *JSONRPCError) {
	w.Header()["Content-Type"] = jsonHeaderValue
	w.WriteHeader(status)
	_, _ = w.Write(encodeResponse(id, nil, err))
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header()["Content-Type"] = jsonHeaderValue
	_, _ = w.Write(body)
}

func supportedVersion(v string) bool { return slices.Contains(SupportedProtocolVersions, v) }
