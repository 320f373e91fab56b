package netguard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "0.0.0.0": false, "224.0.0.1": false, "100.64.0.1": false,
		"::1": false, "fe80::1": false, "fc00::1": false, "::": false,
		"64:ff9b::a00:1": false, "2002:7f00:1::": false, "2001:0:4136:e378:8000:63bf:3fff:fdd2": false,
		"93.184.216.34": true, "2606:2800:220:1::1": true, "64:ff9b::5db8:d822": true,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != public {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, public)
		}
	}
	if err := Control("tcp", "[::ffff:127.0.0.1]:80", nil); !errors.Is(err, ErrNonPublicAddress) {
		t.Errorf("an IPv4-mapped loopback address passed: %v", err)
	}
}

// The guarded transport refuses a loopback server, also when the base
// transport it copies carries its own dialers or a proxy; allowPrivate
// (for tests and development only) lets it through.
func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.Proxy = http.ProxyFromEnvironment
	get := func(tr *http.Transport) error {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(Transport(base, time.Second, false)); !errors.Is(err, ErrNonPublicAddress) {
		t.Fatalf("guarded transport reached loopback: %v", err)
	}
	if err := get(Transport(nil, time.Second, false)); !errors.Is(err, ErrNonPublicAddress) {
		t.Fatalf("guarded default transport reached loopback: %v", err)
	}
	if err := get(Transport(base, time.Second, true)); err != nil {
		t.Fatalf("allowPrivate: %v", err)
	}
}
