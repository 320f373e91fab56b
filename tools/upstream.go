package tools

// What every outbound call to an image service shares: a deadline, the
// caller's cancellation, a cap on the response, and errors that say what
// happened without the credentials.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Defaults for the image services' HTTP calls.
const (
	DefaultImageTimeout     = 60 * time.Second
	DefaultMaxResponseBytes = 16 << 20
)

// upstream holds the settings shared by the HTTP image services.
type upstream struct {
	service  string
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
	secret   string // removed from every message that could echo it
	hint401  string // what to check when the credentials are refused
}

// newUpstream applies the defaults every image service shares: a nil client
// is http.DefaultClient, a zero timeout DefaultImageTimeout, a zero cap
// DefaultMaxResponseBytes. secret, when set, is also the bearer token.
func newUpstream(service string, client *http.Client, timeout time.Duration, maxBytes int64, secret, hint401 string) *upstream {
	return &upstream{
		service:  service,
		client:   orDefault(client, http.DefaultClient),
		timeout:  orDefault(timeout, DefaultImageTimeout),
		maxBytes: orDefault(maxBytes, DefaultMaxResponseBytes),
		secret:   secret,
		hint401:  hint401,
	}
}

// response is an upstream answer read in full (up to maxBytes).
type response struct {
	status int
	header http.Header
	body   []byte
}

// post sends body as JSON, with the secret as bearer token when there is
// one, and reads the whole answer. Errors are
// *UpstreamError: timeout, cancellation, an unreachable service, or a body
// larger than maxBytes.
func (u *upstream) post(ctx context.Context, url string, body any) (*response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, u.timeout, ErrUpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, u.fail(ErrUpstreamFailed, 0, "invalid service URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if u.secret != "" {
		req.Header.Set("Authorization", "Bearer "+u.secret)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, u.transportError(ctx, cctx, err)
	}
	defer resp.Body.Close()
	// Read one byte past the cap, so that a body of exactly the cap passes
	// and a longer one is detected without reading it all.
	data, err := io.ReadAll(io.LimitReader(resp.Body, u.maxBytes+1))
	if err != nil {
		return nil, u.transportError(ctx, cctx, err)
	}
	if int64(len(data)) > u.maxBytes {
		return nil, u.fail(ErrUpstreamMalformed, resp.StatusCode, fmt.Sprintf("the response is larger than %d bytes", u.maxBytes))
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// transportError tells the caller's cancellation from our own deadline from a
// network failure. The *url.Error text is not used: it carries the URL,
// which for Workers AI holds the account id.
func (u *upstream) transportError(parent, cctx context.Context, err error) error {
	switch {
	case parent.Err() != nil && errors.Is(parent.Err(), context.DeadlineExceeded):
		return u.fail(ErrUpstreamTimeout, 0, "the request's own deadline passed")
	case parent.Err() != nil:
		return u.fail(ErrUpstreamCanceled, 0, "")
	case errors.Is(context.Cause(cctx), ErrUpstreamTimeout):
		return u.fail(ErrUpstreamTimeout, 0, fmt.Sprintf("no answer within %s", u.timeout))
	}
	var detail string
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		detail = ue.Unwrap().Error()
	}
	return u.fail(ErrUpstreamFailed, 0, detail)
}

// statusError maps a non-2xx status to an *UpstreamError, with details the
// service gave (already extracted by the caller from its error shape).
func (u *upstream) statusError(r *response, details []string) error {
	detail := strings.Join(details, "; ")
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		e := u.fail(ErrUpstreamCredentials, r.status, detail)
		e.Hint = u.hint401
		return e
	case r.status == http.StatusTooManyRequests:
		e := u.fail(ErrUpstreamRateLimited, r.status, detail)
		e.RetryAfter = u.clean(r.header.Get("Retry-After"), 64)
		return e
	case r.status >= 500:
		return u.fail(ErrUpstreamFailed, r.status, detail)
	default:
		return u.fail(ErrUpstreamRejected, r.status, detail)
	}
}

// image decodes a service's base64 image; bad data is a malformed answer.
func (u *upstream) image(r *response, b64 string) (*Image, error) {
	data, mt, err := decodeImage(b64)
	if err != nil {
		return nil, u.fail(ErrUpstreamMalformed, r.status, err.Error())
	}
	return &Image{Data: data, MimeType: mt}, nil
}

func (u *upstream) fail(kind error, status int, detail string) *UpstreamError {
	return &UpstreamError{Service: u.service, Kind: kind, StatusCode: status, Detail: u.clean(detail, 500)}
}

// clean prepares text from the outside for an error message: the secret is
// removed (a service might echo a header back), control characters are
// dropped, and the length is capped.
func (u *upstream) clean(s string, max int) string {
	if u.secret != "" {
		s = strings.ReplaceAll(s, u.secret, "[redacted]")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return strings.TrimSpace(s)
}

// errorCode is a service's error code as text, its JSON quotes dropped: the
// code may be a string or a number, and "" stands for none (absent or null).
func errorCode(raw json.RawMessage) string {
	if c := strings.Trim(string(raw), `"`); c != "null" {
		return c
	}
	return ""
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
