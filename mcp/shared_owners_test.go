package mcp

import (
	"context"
	"net/http"
	"testing"
	"time"

	"remote-mcp-authkit/events"
)

// ownerSets is the owner index of the test directories: per owner, the
// session digests it holds and when each entry expires, as the store's
// per-user index keeps them. Its callers hold their directory's lock.
type ownerSets map[string]map[string]time.Time

// admit records digest for owner, forgets entries past their expiry, and
// while the owner holds more than limit, ends the entry that expires
// first (never the one just admitted), calling forget with its digest.
func (o ownerSets) admit(owner, digest string, expires time.Time, limit int, forget func(digest string)) []string {
	live := o[owner]
	if live == nil {
		live = map[string]time.Time{}
		o[owner] = live
	}
	now := time.Now()
	for k, at := range live {
		if !at.After(now) {
			delete(live, k)
		}
	}
	live[digest] = expires
	var ended []string
	for len(live) > limit {
		oldest := ""
		for k, at := range live {
			if k != digest && (oldest == "" || at.Before(live[oldest])) {
				oldest = k
			}
		}
		delete(live, oldest)
		ended = append(ended, oldest)
		forget(oldest)
	}
	return ended
}

// mapOwners is an OwnerIndex beside a mapDirectory, both shared by the
// servers of a test as a database is by replicas.
type mapOwners struct {
	*mapDirectory
	owners ownerSets
}

func (d *mapOwners) Admit(_ context.Context, owner, digest string, expires time.Time, limit int) ([]string, error) {
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

func (d *mapOwners) Drop(_ context.Context, owner, digest string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.owners[owner], digest)
	return nil
}

// TestSessionLimitAcrossServers: an owner's sessions are bounded across
// the servers sharing an OwnerIndex; the one pushed out ends on every
// server, including those that adopted it, and is not adopted again.
func TestSessionLimitAcrossServers(t *testing.T) {
	dir := &mapOwners{mapDirectory: &mapDirectory{records: map[string][]byte{}}, owners: ownerSets{}}
	bus := events.NewLocal()
	opts := HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-Owner") }, Sessions: dir,
		Relay: eventsRelay{bus, events.StreamMessage}, MaxSessionsPerOwner: 2}
	var urls []string
	for range 2 {
		s, ts := newTestServer(t, newTestTools(), opts)
		t.Cleanup(bus.Subscribe(func(e events.Event) {
			if e.Kind == events.StreamMessage {
				s.DeliverRelayed(e.Key, e.Data)
			}
		}))
		urls = append(urls, ts.URL+"/mcp")
	}
	open := func(i int, owner string) *httpClient {
		c := newHTTPClient(t, urls[i])
		c.header.Set("X-Owner", owner)
		c.initialize("2025-06-18")
		return c
	}
	status := func(c *httpClient, i int) int {
		other := newHTTPClient(t, urls[i])
		other.header.Set("X-Owner", c.header.Get("X-Owner"))
		other.sid, other.version = c.sid, c.version
		resp, _ := other.call("ping", nil)
		return resp.StatusCode
	}
	first := open(0, "ada")
	if st := status(first, 1); st != http.StatusOK { // adopted by the second server
		t.Fatalf("first session on the second server: %d", st)
	}
	time.Sleep(time.Millisecond) // expiries apart
	second := open(1, "ada")
	grace := open(1, "grace")
	time.Sleep(time.Millisecond)
	third := open(1, "ada") // ada's third: her first goes, on both servers
	for i := range 2 {
		if st := status(first, i); st != http.StatusNotFound {
			t.Fatalf("the session pushed out, on server %d: %d, want 404", i, st)
		}
		for _, c := range []*httpClient{second, third, grace} {
			if st := status(c, i); st != http.StatusOK {
				t.Fatalf("a session within its owner's limit, on server %d: %d", i, st)
			}
		}
	}
	// A DELETE on one server ends the copy the other adopted (above).
	resp := second.do(http.MethodDelete, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	waitFor(t, "the deleted session's record gone", func() bool { return !dir.has(second.sid) })
	if st := status(second, 0); st != http.StatusNotFound {
		t.Fatalf("the deleted session on the other server: %d, want 404", st)
	}
}
