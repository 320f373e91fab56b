package mcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/events"
)

// leaseDirectory is a SessionDirectory and OwnerIndex that honours
// expiries, as the store does: what is not renewed in time is gone.
type leaseDirectory struct {
	mu      sync.Mutex
	records map[string]leased
	owners  ownerSets
}

type leased struct {
	b       []byte
	expires time.Time
}

func newLeaseDirectory() *leaseDirectory {
	return &leaseDirectory{records: map[string]leased{}, owners: ownerSets{}}
}

func (d *leaseDirectory) Save(_ context.Context, id string, rec []byte, ttl time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[id] = leased{append([]byte(nil), rec...), time.Now().Add(ttl)}
	return nil
}

func (d *leaseDirectory) Load(_ context.Context, id string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.records[id]; ok && time.Now().Before(r.expires) {
		return r.b, nil
	}
	return nil, nil
}

func (d *leaseDirectory) Delete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.records, id)
	return nil
}

func (d *leaseDirectory) Admit(_ context.Context, owner, digest string, expires time.Time, limit int) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owners.admit(owner, digest, expires, limit, func(oldest string) {
		for id := range d.records {
			if SessionDigest(id) == oldest {
				delete(d.records, id)
			}
		}
	}), nil
}

func (d *leaseDirectory) Drop(_ context.Context, owner, digest string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.owners[owner], digest)
	return nil
}

// newLeasePair starts two servers with the given lease, sharing dir and an
// events bus as replicas share PostgreSQL, serving /sse and /mcp.
func newLeasePair(t *testing.T, lease time.Duration, opts HTTPOptions, tasks TaskStore, tools ToolSet) (servers [2]*Server, urls [2]string) {
	t.Helper()
	bus := events.NewLocal()
	opts.Relay = eventsRelay{bus, events.StreamMessage}
	for i := range 2 {
		so := ServerOptions{Info: Implementation{Name: "lease-server", Version: "1"}, Tools: tools, Logger: quietLogger(), Lease: lease}
		if tasks != nil {
			so.Tasks = &TaskOptions{Store: tasks, Relay: eventsRelay{bus, events.TaskMessage}}
		}
		s := NewServer(so)
		unsub := bus.Subscribe(func(e events.Event) {
			switch e.Kind {
			case events.StreamMessage:
				s.DeliverRelayed(e.Key, e.Data)
			case events.TaskMessage:
				s.DeliverTaskMessage(e.Key, e.Data)
			}
		})
		mux := http.NewServeMux()
		mux.Handle("/mcp", s.StreamableHTTPHandler(opts))
		sse := s.SSEHandler(opts)
		mux.Handle("/sse", sse)
		mux.Handle("/sse/message", sse)
		ts := httptest.NewServer(mux)
		t.Cleanup(func() {
			unsub()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
			ts.Close()
		})
		servers[i], urls[i] = s, ts.URL
	}
	return servers, urls
}

func postStatus(c *legacyClient, base string) int {
	c.base = base
	resp := c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSSELeaseOfDeadServer: a server that stops renewing (killed with its
// streams open) leaves records that lapse with the lease, so a message
// POSTed for one of its sessions to another server gets 404 and the client
// reconnects; a live server's sessions outlast many leases.
func TestSSELeaseOfDeadServer(t *testing.T) {
	const lease = 300 * time.Millisecond
	owner := func(r *http.Request) string { return r.Header.Get("X-Owner") }
	s, url := newLeasePair(t, lease, HTTPOptions{SessionOwner: owner, Sessions: newLeaseDirectory()}, nil, newTestTools())
	ada := http.Header{"X-Owner": {"ada"}}
	dead := openLegacy(t, url[0], "/sse", ada)
	live := openLegacy(t, url[1], "/sse", ada)
	if st := postStatus(dead, url[1]); st != http.StatusAccepted {
		t.Fatalf("a message for a live stream through the other server: %d, want 202", st)
	}
	s[0].leases.paused.Store(true) // killed: no renewals, no cleanup
	waitFor(t, "404 for the dead server's session", func() bool { return postStatus(dead, url[1]) == http.StatusNotFound })
	time.Sleep(3 * lease)
	if st := postStatus(live, url[0]); st != http.StatusAccepted {
		t.Fatalf("a live server's session after 3 leases, through the other server: %d, want 202", st)
	}
}

// TestSSESessionsCountAcrossServers: HTTP+SSE sessions count in their
// owner's sessions across servers: the third one, on either server, ends
// the least recently renewed, wherever its stream is.
func TestSSESessionsCountAcrossServers(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-Owner") }
	_, url := newLeasePair(t, time.Minute, HTTPOptions{SessionOwner: owner, Sessions: newLeaseDirectory(), MaxSessionsPerOwner: 2}, nil, newTestTools())
	ada := http.Header{"X-Owner": {"ada"}}
	first := openLegacy(t, url[0], "/sse", ada)
	time.Sleep(2 * time.Millisecond) // expiries apart
	second := openLegacy(t, url[1], "/sse", ada)
	grace := openLegacy(t, url[1], "/sse", http.Header{"X-Owner": {"grace"}})
	time.Sleep(2 * time.Millisecond)
	third := openLegacy(t, url[0], "/sse", ada)
	for i := range 2 {
		if st := postStatus(first, url[i]); st != http.StatusNotFound {
			t.Fatalf("the session pushed out, on server %d: %d, want 404", i, st)
		}
		for _, c := range []*legacyClient{second, third, grace} {
			if st := postStatus(c, url[i]); st != http.StatusAccepted {
				t.Fatalf("a session within its owner's limit, on server %d: %d", i, st)
			}
		}
	}
}

// TestTaskOfDeadServerFails: a task whose server stops renewing its lease
// (killed) reads failed on another server, saying why; a task whose server
// lives stays working past many leases.
func TestTaskOfDeadServerFails(t *testing.T) {
	const lease = 300 * time.Millisecond
	tt := &taskTools{release: make(chan struct{}), cancelled: make(chan struct{}, 8)}
	s, url := newLeasePair(t, lease, HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") }}, NewMemoryTaskStore(), tt)
	dead := decodeTask(t, taskCall(t, url[0]+"/mcp", "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`)).TaskID
	live := decodeTask(t, taskCall(t, url[1]+"/mcp", "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`)).TaskID
	s[0].leases.paused.Store(true) // killed: its task's lease is not renewed
	w := waitStatus(t, url[1]+"/mcp", "ada", dead, "failed")
	if w.Error == nil || !strings.Contains(w.Error.Message, "server running this task stopped") {
		t.Fatalf("the dead server's task: %+v", w)
	}
	if w := decodeTask(t, taskCall(t, url[0]+"/mcp", "ada", tasksCaps, "tasks/get", `"taskId":"`+dead+`"`)); w.Status != "failed" {
		t.Fatalf("recorded as failed for every server: %+v", w)
	}
	time.Sleep(3 * lease)
	if w := decodeTask(t, taskCall(t, url[0]+"/mcp", "ada", tasksCaps, "tasks/get", `"taskId":"`+live+`"`)); w.Status != "working" {
		t.Fatalf("a live server's task after 3 leases, on the other server: %+v", w)
	}
}
