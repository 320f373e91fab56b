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
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
	case errors.Is(err, errPrivateAddress):
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

// ssrfGuard is a net.Dialer Control function: it runs after DNS resolution
// on the very address being connected to, so it holds for every redirect
// and cannot be dodged by DNS rebinding between a check and the dial.
func ssrfGuard(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errPrivateAddress, address)
	}
	ip := ap.Addr().Unmap()
	if !publicAddr(ip) {
		return fmt.Errorf("%w: %s", errPrivateAddress, ip)
	}
	return nil
}

// publicAddr reports whether ip is an ordinary global unicast address:
// none of the private or special-purpose blocks of RFC 6890, nor an IPv6
// address that carries one of those as an embedded IPv4 address a
// translator or tunnel would deliver to.
func publicAddr(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range specialPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip): // RFC 6052 s2.2: the IPv4 address is the last 32 bits
			return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip): // RFC 3056 s2: bits 16-47
			return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}

var (
	// specialPrefixes are blocks, beyond what netip classifies, that
	// reach into a local network or nowhere public (IANA special-purpose
	// address registries, RFC 6890).
	specialPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),      // "this network", RFC 791
		netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGNAT), RFC 6598
		netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments, RFC 6890
		netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking, RFC 2544
		netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast, RFC 1112
		netip.MustParsePrefix("::/96"),          // IPv4-compatible, RFC 4291 s2.5.5.1
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64, RFC 8215
		netip.MustParsePrefix("fec0::/10"),      // site-local, RFC 3879
		netip.MustParsePrefix("2001::/32"),      // Teredo, RFC 4380
	}
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func newMetadataFetcher(base *http.Client, allowPrivate bool, now func() time.Time) *metadataFetcher {
	var tr *http.Transport
	if base != nil {
		if t, ok := base.Transport.(*http.Transport); ok {
			tr = t.Clone()
		}
	}
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.Proxy = nil // a proxy would dial for us, past the guard
	// So would custom dialers copied from the given transport: for https
	// DialTLSContext is used instead of DialContext.
	tr.DialTLSContext, tr.DialTLS, tr.Dial = nil, nil, nil
	d := &net.Dialer{Timeout: metadataFetchTimout}
	if !allowPrivate {
		d.Control = ssrfGuard
	}
	tr.DialContext = d.DialContext
	tr.MaxResponseHeaderBytes = 16 << 10
	c := &http.Client{
		Transport: tr,
		Timeout:   metadataFetchTimout,
		// The document must be at the client_id URL itself: its client_id
		// must equal the URL we asked for, so a redirect could only lead to a
		// mismatch. Refusing redirects also keeps the fetch a single request.
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirected },
	}
	return &metadataFetcher{http: c, now: now, cache: map[string]metadataEntry{}}
}

// client returns the client described by the metadata document at
// clientID, from cache or freshly fetched. Document errors come back as an
// *oauthError (invalid_client_metadata) with a description that helps the
// client's developer.
func (f *metadataFetcher) client(ctx context.Context, clientID string, scopes []string) (*Client, error) {
	now := f.now()
	f.mu.Lock()
	e, ok := f.cache[clientID]
	f.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.client, e.err
	}
	c, ttl, err := f.fetch(ctx, clientID, scopes)
	if err != nil {
		if ctx.Err() != nil {
			// The requester gave up, which says nothing about the
			// document: caching this would let anyone who starts and
			// abandons requests lock a client out.
			return nil, err
		}
		ttl = metadataErrorTTL
	}
	if ttl > 0 {
		f.mu.Lock()
		if len(f.cache) >= metadataCacheMax {
			for k, v := range f.cache {
				if !now.Before(v.expires) || len(f.cache) >= metadataCacheMax {
					delete(f.cache, k)
				}
			}
		}
		f.cache[clientID] = metadataEntry{c, err, now.Add(ttl)}
		f.mu.Unlock()
	}
	return c, err
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
		if errors.Is(err, errPrivateAddress) {
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
