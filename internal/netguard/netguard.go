// Package netguard keeps fetches of URLs that someone outside chose (a client
// ID metadata document, an image link in an image service's answer) away
// from this server's own network: loopback, private, link-local, multicast
// and the other special-purpose blocks of RFC 6890. It exists so that the
// OAuth server and the tools share one guard rather than two copies.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrNonPublicAddress is wrapped by every refusal of Control.
var ErrNonPublicAddress = errors.New("refusing to connect to a loopback, private, link-local or multicast address")

// Control is a net.Dialer Control function: it runs after DNS resolution on
// the very address being connected to, so it holds for every redirect and
// cannot be dodged by DNS rebinding between a check and the dial.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNonPublicAddress, address)
	}
	ip := ap.Addr().Unmap()
	if !publicAddr(ip) {
		return fmt.Errorf("%w: %s", ErrNonPublicAddress, ip)
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

// Transport returns a transport for fetching URLs chosen by others: a clone
// of base (or of http.DefaultTransport when base is not an
// *http.Transport) whose dialer gives up after dialTimeout and, unless
// allowPrivate, refuses every address publicAddr refuses. allowPrivate is
// for development and tests that serve from loopback, never a default.
func Transport(base http.RoundTripper, dialTimeout time.Duration, allowPrivate bool) *http.Transport {
	var tr *http.Transport
	if t, ok := base.(*http.Transport); ok && t != nil {
		tr = t.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.Proxy = nil // a proxy would dial for us, past the guard
	// So would custom dialers copied from the given transport: for https
	// DialTLSContext is used instead of DialContext.
	//lint:ignore SA1019 the deprecated hooks are cleared, not used: a copied one would dial past the guard
	tr.DialTLSContext, tr.DialTLS, tr.Dial = nil, nil, nil
	d := &net.Dialer{Timeout: dialTimeout}
	if !allowPrivate {
		d.Control = Control
	}
	tr.DialContext = d.DialContext
	tr.MaxResponseHeaderBytes = 16 << 10
	return tr
}
