package oauth

// Client ID metadata documents (MCP 2025-11-25 "Authorization", section
// "Client ID Metadata Documents"; draft-ietf-oauth-client-id-metadata-
// document-00). A client_id that is an https URL with a path names a JSON
// document, hosted by the client, holding its metadata. We fetch it with a
// size limit, a timeout and an SSRF guard, and cache it as its
// Cache-Control allows within bounds.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"remote-mcp-authkit/internal/netguard"
)

const (
	maxMetadataDocument = 64 << 10
	metadataFetchTimout = 5 * time.Second
	metadataDefaultTTL  = 5 * time.Minute
	metadataMinTTL      = 30 * time.Second
	metadataMaxTTL      = 24 * time.Hour
	metadataErrorTTL    = 30 * time.Second // failures too, so a bad client_id cannot make us fetch in a loop
	metadataCacheMax    = 1000
)

// isMetadataDocumentURL reports whether clientID is a client ID metadata
// document URL: https, a host, a path other than "/", no fragment, no
// userinfo (draft s3).
func isMetadataDocumentURL(clientID string) bool {
	if !strings.HasPrefix(clientID, "https://") {
		return false
	}
	u, err := url.Parse(clientID)
	return err == nil && u.Host != "" && u.Path != "" && u.Path != "/" && u.Fragment == "" && u.User == nil
}

type metadataFetcher struct {
	http *http.Client
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]metadataEntry
	// inFlight holds the fetch under way for each document not yet in
	// cache, so that concurrent authorizations naming it share one fetch
	// instead of each sending a request to the client's host.
	inFlight map[string]*metadataFlight
}

// metadataFlight is one fetch of a document that several callers may be
// waiting for; its fields are set before done is closed.
type metadataFlight struct {
	done   chan struct{}
	client *Client
	err    error
}

type metadataEntry struct {
	client  *Client
	err     error
	expires time.Time
}

// errPrivateAddress is returned when a metadata document URL resolves to
// an address inside our own network.
var errPrivateAddress = errors.New("refusing to fetch client metadata from a loopback, private, link-local or multicast address")

var errRedirected = errors.New("the URL redirects; the document must be served directly")

// fetchFailure says why a fetch failed in words of our own. The error
// itself names our resolver, addresses and ports, which anyone who names
// a client_id would read in the answer; it goes to no one.
func fetchFailure(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, netguard.ErrNonPublicAddress):
		return errPrivateAddress.Error()
	case errors.Is(err, errRedirected):
		return errRedirected.Error()
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "no answer in time"
	case errors.As(err, &certErr) || errors.As(err, &recErr):
		return "the TLS handshake failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	}
	return "the document could not be fetched"
}

func newMetadataFetcher(base *http.Client, allowPrivate bool, now func() time.Time) *metadataFetcher {
	var rt http.RoundTripper
	if base != nil {
		rt = base.Transport
	}
	tr := netguard.Transport(rt, metadataFetchTimout, allowPrivate)
	c := &http.Client{
		Transport: tr,
		Timeout:   metadataFetchTimout,
		// The document must be at the client_id URL itself: its client_id
		// must equal the URL we asked for, so a redirect could only lead to a
		// mismatch. Refusing redirects also keeps the fetch a single request.
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirected },
	}
	return &metadataFetcher{http: c, now: now, cache: map[string]metadataEntry{}, inFlight: map[string]*metadataFlight{}}
}

// client returns the client described by the metadata document at
// clientID, from cache or freshly fetched. Document errors come back as an
// *oauthError (invalid_client_metadata) with a description that helps the
// client's developer.
//
// Callers that ask for the same uncached document at once share one fetch.
// The fetch runs apart from any one caller's context, bounded by its own
// timeout: a caller that gives up stops waiting but neither cancels the
// fetch for the others nor decides what is cached, so anyone who starts and
// abandons requests can neither lock a client out nor make us fetch again.
func (f *metadataFetcher) client(ctx context.Context, clientID string, scopes []string) (*Client, error) {
	now := f.now()
	f.mu.Lock()
	if e, ok := f.cache[clientID]; ok && now.Before(e.expires) {
		f.mu.Unlock()
		return e.client, e.err
	}
	fl, ok := f.inFlight[clientID]
	if !ok {
		fl = &metadataFlight{done: make(chan struct{})}
		f.inFlight[clientID] = fl
		// Scopes are the server's configuration, the same for every
		// caller, so the first caller's are everyone's.
		go f.fly(context.WithoutCancel(ctx), clientID, scopes, fl)
	}
	f.mu.Unlock()
	select {
	case <-fl.done:
		return fl.client, fl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fly fetches the document for a flight, caches the outcome as the
// document's Cache-Control allows (failures briefly, so a bad client_id
// cannot make us fetch in a loop), and releases the flight's waiters.
func (f *metadataFetcher) fly(ctx context.Context, clientID string, scopes []string, fl *metadataFlight) {
	c, ttl, err := f.fetch(ctx, clientID, scopes)
	if err != nil {
		ttl = metadataErrorTTL
	}
	now := f.now()
	f.mu.Lock()
	if ttl > 0 {
		if len(f.cache) >= metadataCacheMax {
			for k, v := range f.cache {
				if !now.Before(v.expires) || len(f.cache) >= metadataCacheMax {
					delete(f.cache, k)
				}
			}
		}
		f.cache[clientID] = metadataEntry{c, err, now.Add(ttl)}
	}
	delete(f.inFlight, clientID)
	fl.client, fl.err = c, err
	f.mu.Unlock()
	close(fl.done)
}

func (f *metadataFetcher) fetch(ctx context.Context, clientID string, scopes []string) (*Client, time.Duration, error) {
	bad := func(format string, a ...any) error {
		return registrationError("invalid_client_metadata", "client metadata document "+clientID+": "+fmt.Sprintf(format, a...))
	}
	ctx, cancel := context.WithTimeout(ctx, metadataFetchTimout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil {
		return nil, 0, bad("%v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.http.Do(req)
	if err != nil {
		if errors.Is(err, netguard.ErrNonPublicAddress) {
			return nil, 0, bad("%v", errPrivateAddress)
		}
		return nil, 0, bad("fetch failed: %s", fetchFailure(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, bad("fetch returned HTTP %d, want 200", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, 0, bad("Content-Type is %q, want application/json", mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataDocument+1))
	if err != nil {
		return nil, 0, bad("reading the document failed: %s", fetchFailure(err))
	}
	if len(body) > maxMetadataDocument {
		return nil, 0, bad("larger than %d bytes", maxMetadataDocument)
	}
	var doc struct {
		ClientID string `json:"client_id"`
		registrationRequest
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, 0, bad("not a JSON object: %v", err)
	}
	if doc.ClientID != clientID {
		// MCP 2025-11-25: the document's client_id MUST match its URL exactly.
		return nil, 0, bad("client_id %q does not equal the document URL", doc.ClientID)
	}
	if doc.ClientSecret != "" {
		return nil, 0, bad("must not contain client_secret")
	}
	if len(doc.RedirectURIs) == 0 {
		return nil, 0, bad("redirect_uris is required")
	}
	if len(doc.RedirectURIs) > maxRedirectURIs {
		return nil, 0, bad("at most %d redirect_uris", maxRedirectURIs)
	}
	for _, u := range doc.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return nil, 0, bad("%v", err)
		}
	}
	switch doc.TokenEndpointAuthMethod {
	case "", "none":
	default:
		// A secret cannot be shared through a public document, and we do
		// not implement private_key_jwt.
		return nil, 0, bad("token_endpoint_auth_method %q is not supported; metadata document clients are public (none)", doc.TokenEndpointAuthMethod)
	}
	c := &Client{
		ClientID:                clientID,
		TokenEndpointAuthMethod: "none",
		RedirectURIs:            doc.RedirectURIs,
		GrantTypes:              doc.GrantTypes,
		ResponseTypes:           doc.ResponseTypes,
		ClientName:              doc.ClientName,
		ClientURI:               doc.ClientURI,
		LogoURI:                 doc.LogoURI,
		Scope:                   doc.Scope,
		SoftwareID:              doc.SoftwareID,
		SoftwareVersion:         doc.SoftwareVersion,
		MetadataDocument:        true,
	}
	if e := c.validateMetadata(scopes); e != nil {
		return nil, 0, bad("%s", e.description)
	}
	return c, cacheTTL(resp.Header.Get("Cache-Control")), nil
}

// cacheTTL reads how long we may keep a document from its Cache-Control
// header (RFC 9111 s5.2.2), clamped to [metadataMinTTL, metadataMaxTTL] so a
// client can neither make us fetch on every request nor pin stale metadata
// for ever. no-store and no-cache mean no caching at all.
func cacheTTL(cc string) time.Duration {
	ttl := metadataDefaultTTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(d, "max-age="), `"`))
			if err != nil || n < 0 {
				continue
			}
			ttl = time.Duration(n) * time.Second
		}
	}
	return min(max(ttl, metadataMinTTL), metadataMaxTTL)
}
