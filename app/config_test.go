package app

import (
	"context"
	"io"
	"strings"
	"testing"
)

// The admin listener is loopback only, and -debug-addr is its older name.
func TestAdminAddrConfig(t *testing.T) {
	if _, err := parseConfig([]string{"-debug-addr", "127.0.0.1:9", "-admin-addr", "127.0.0.1:8"}, func(string) string { return "" }, Options{}); err == nil {
		t.Fatal("two different admin addresses accepted")
	}
	c, err := parseConfig([]string{"-debug-addr", "127.0.0.1:9"}, func(string) string { return "" }, Options{})
	if err != nil || c.adminAddr != "127.0.0.1:9" {
		t.Fatalf("-debug-addr alias: %v %+v", err, c)
	}
	err = Run(context.Background(), []string{"-addr", "127.0.0.1:0", "-memory", "-admin-addr", "0.0.0.0:0"}, func(string) string { return "" }, io.Discard, Options{})
	if err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Fatalf("a public admin address: %v", err)
	}
	for _, bad := range [][]string{{"-log-format", "xml"}, {"-log-level", "loud"}} {
		if _, err := parseConfig(bad, func(string) string { return "" }, Options{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestMaxRequestsPerSessionFlag: the bound on one session's requests in
// flight is the operator's to set (a load test that shares one session
// across many connections raises it), and defaults to mcp's own 16.
func TestMaxRequestsPerSessionFlag(t *testing.T) {
	getenv := func(string) string { return "" }
	cfg, err := parseConfig([]string{"-memory"}, getenv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxInFlight != 16 {
		t.Errorf("default -max-requests-per-session = %d, want 16", cfg.maxInFlight)
	}
	cfg, err = parseConfig([]string{"-memory", "-max-requests-per-session", "64"}, getenv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxInFlight != 64 {
		t.Errorf("-max-requests-per-session 64 parsed as %d", cfg.maxInFlight)
	}
}

// TestHeapFloorFlag: the collector's heap floor defaults to 16 MiB, is the
// operator's to change or turn off, and gives way to GOGC in the
// environment, which says the operator paces the collector.
func TestHeapFloorFlag(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{nil, nil, 16},
		{[]string{"-heap-floor", "64"}, nil, 64},
		{[]string{"-heap-floor", "0"}, nil, 0},
		{nil, map[string]string{"HEAP_FLOOR": "32"}, 32},
		{[]string{"-heap-floor", "64"}, map[string]string{"GOGC": "200"}, 0},
	} {
		env = c.env
		cfg, err := parseConfig(c.args, getenv, Options{})
		if err != nil {
			t.Fatalf("%v %v: %v", c.args, c.env, err)
		}
		if cfg.heapFloor != c.want {
			t.Errorf("%v %v: heap floor %d MiB, want %d", c.args, c.env, cfg.heapFloor, c.want)
		}
	}
	env = nil
	for _, bad := range []string{"-1", "x", "16MiB", "2000000"} {
		if _, err := parseConfig([]string{"-heap-floor", bad}, getenv, Options{}); err == nil {
			t.Errorf("-heap-floor %s accepted", bad)
		}
	}
}
