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
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"remote-mcp-authkit/internal/netguard"
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
	secret   string            // the bearer token, when set
	header   map[string]string // further request headers, e.g. an AI Gateway token
	redact   []string          // removed from every message that could echo them
	hint401  string            // what to check when the credentials are refused
}

// newUpstream applies the defaults every image service shares: a nil client
// is http.DefaultClient, a zero timeout DefaultImageTimeout, a zero cap
// DefaultMaxResponseBytes. secret, when set, is also the bearer token.
func newUpstream(service string, client *http.Client, timeout time.Duration, maxBytes int64, secret, hint401 string) *upstream {
	u := &upstream{
		service:  service,
		client:   orDefault(client, http.DefaultClient),
		timeout:  orDefault(timeout, DefaultImageTimeout),
		maxBytes: orDefault(maxBytes, DefaultMaxResponseBytes),
		secret:   secret,
		hint401:  hint401,
	}
	u.redact = append(u.redact, secret)
	return u
}

// setHeader adds a request header. A secret in it must also be added to
// redact.
func (u *upstream) setHeader(name, value string) {
	if u.header == nil {
		u.header = map[string]string{}
	}
	u.header[name] = value
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
	for k, v := range u.header {
		req.Header.Set(k, v)
	}
	return u.do(ctx, cctx, u.client, req)
}

// do sends req and reads the whole answer, up to maxBytes.
func (u *upstream) do(ctx, cctx context.Context, client *http.Client, req *http.Request) (*response, error) {
	resp, err := client.Do(req)
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
	case errors.Is(err, netguard.ErrNonPublicAddress):
		return u.fail(ErrUpstreamMalformed, 0, "the image link leads to a loopback, private or link-local address, which this server does not fetch")
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
func (u *upstream) statusError(r *response, details []string) *UpstreamError {
	detail := strings.Join(details, "; ")
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		e := u.fail(ErrUpstreamCredentials, r.status, detail)
		e.Hint = u.hint401
		return e
	case r.status == http.StatusTooManyRequests:
		e := u.fail(ErrUpstreamRateLimited, r.status, detail)
		e.RetryAfter = retryAfter(u.clean(r.header.Get("Retry-After"), 64))
		return e
	case r.status >= 500:
		return u.fail(ErrUpstreamFailed, r.status, detail)
	default:
		return u.fail(ErrUpstreamRejected, r.status, detail)
	}
}

// retryAfter words a Retry-After value (RFC 9110 section 10.2.3: a number
// of seconds or an HTTP date) for a person: "20s", or the date as sent.
func retryAfter(v string) string {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return strconv.FormatUint(n, 10) + "s"
	}
	return v
}

// maxImageRedirects bounds the redirects followed when fetching an image.
const maxImageRedirects = 3

// newImageFetchClient returns the client that fetches an image a service
// names by URL (data[].url of OpenAI-compatible services). The URL is
// chosen by the service, not by the operator, so it gets the limits of the
// client metadata fetcher: every address dialled, redirects included, must
// be public (internal/netguard), the body is capped and the time bounded by
// fetchImage. allowPrivate is for tests only.
func newImageFetchClient(allowPrivate bool) *http.Client {
	return &http.Client{
		Transport: netguard.Transport(nil, 10*time.Second, allowPrivate),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxImageRedirects {
				return fmt.Errorf("more than %d redirects", maxImageRedirects)
			}
			if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
				return errors.New("a redirect leaves http and https")
			}
			return nil
		},
	}
}

// fetchImage GETs the image at link with client (newImageFetchClient),
// within the service's timeout and size cap, and checks that it is an
// image. Messages name the link's host only: the rest of it may be a
// signed, secret-bearing URL.
func (u *upstream) fetchImage(ctx context.Context, client *http.Client, link string) (*Image, error) {
	p, err := url.Parse(link)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil {
		return nil, u.fail(ErrUpstreamMalformed, http.StatusOK, "data[0].url is not an http or https URL")
	}
	cctx, cancel := context.WithTimeoutCause(ctx, u.timeout, ErrUpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, u.fail(ErrUpstreamMalformed, http.StatusOK, "data[0].url is not a usable URL")
	}
	req.Header.Set("Accept", "image/png, image/jpeg, image/webp")
	r, err := u.do(ctx, cctx, client, req)
	if err != nil {
		if e, ok := err.(*UpstreamError); ok && e.Kind == ErrUpstreamFailed {
			// The service answered; it is the host of its link that could
			// not be reached.
			e.Service += "'s image host " + p.Hostname()
		}
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, u.fail(ErrUpstreamFailed, r.status, fmt.Sprintf("fetching the image from %s answered HTTP %d", p.Hostname(), r.status))
	}
	mt, err := detectImage(r.body)
	if err != nil {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the image at "+p.Hostname()+": "+err.Error())
	}
	return &Image{Data: r.body, MimeType: mt}, nil
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
	for _, secret := range u.redact {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
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
