package app

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"remote-mcp-authkit/audit"
)

// fastHandler writes what slog's own handlers write, for records it takes
// and for those it hands over, in both formats.
func TestFastHandlerMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 41, 14, 922_207_001, time.UTC)
	records := [][]slog.Attr{
		{slog.String("route", "/mcp"), slog.String("method", "POST"), slog.Int("status", 200), slog.Duration("duration", 1234567*time.Nanosecond),
			slog.String("mcp_method", "tools/call"), slog.String("tool", "a<b>&c"), slog.String("user_id", "user_01H"), slog.Bool("x", true), slog.Uint64("n", 7),
			slog.String("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
		{slog.String("tool", "has space")},
		{slog.String("tool", `quote"d`)},
		{slog.String("tool", `back\slash`)},
		{slog.String("route", "/mcp"), slog.String("tool", "late space")},
		{slog.String("tool", "")},
		{slog.String("tool", "bad=eq")},
		{slog.String("tool", "naïve")},
		{slog.String("tool", "tab\tx")},
		{slog.Float64("f", 1.5)},
		{slog.Any("err", context.Canceled)},
		{slog.Group("g", slog.String("a", "b"))},
		{slog.String("", "empty key")},
		{},
	}
	// Times whose text the fast path builds from a cached second: zones,
	// whole seconds and milliseconds, trailing zeros, a second's edges.
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{at, at.In(east), at.Local(), time.Date(2026, 12, 4, 19, 41, 14, 0, time.UTC),
		time.Date(2026, 12, 4, 19, 41, 14, 120_000_000, east), time.Date(2026, 12, 4, 19, 41, 14, 999_999_999, time.UTC),
		time.Date(2026, 12, 4, 19, 41, 14, 500, time.FixedZone("west", -8*3600)), time.Now(),
		time.Date(1969, 12, 31, 23, 59, 59, 900_000_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)}
	for _, tm := range times {
		for _, json := range []bool{false, true} {
			var want, got bytes.Buffer
			opts := &slog.HandlerOptions{Level: slog.LevelInfo}
			var std slog.Handler = slog.NewTextHandler(&want, opts)
			if json {
				std = slog.NewJSONHandler(&want, opts)
			}
			r := slog.NewRecord(tm, slog.LevelInfo, "request", 0)
			std.Handle(context.Background(), r)
			fh := newFastHandler(&got, json, opts)
			fh.Handle(context.Background(), r)
			if got.String() != want.String() {
				t.Errorf("time %v json=%v:\nfast %s\nslog %s", tm, json, got.String(), want.String())
			}
		}
	}
	for _, json := range []bool{false, true} {
		for i, attrs := range records {
			for _, msg := range []string{"request", "two words"} {
				var want, got bytes.Buffer
				opts := &slog.HandlerOptions{Level: slog.LevelInfo}
				var std slog.Handler = slog.NewTextHandler(&want, opts)
				if json {
					std = slog.NewJSONHandler(&want, opts)
				}
				r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
				r.AddAttrs(attrs...)
				std.Handle(context.Background(), r)
				fh := newFastHandler(&got, json, opts)
				fh.Handle(context.Background(), r)
				if got.String() != want.String() {
					t.Errorf("json=%v record %d %q:\nfast %s\nslog %s", json, i, msg, got.String(), want.String())
				}
				got.Reset()
				fh.HandleAttrs(context.Background(), at, slog.LevelInfo, msg, attrs)
				if got.String() != want.String() {
					t.Errorf("handleAttrs json=%v record %d %q:\nfast %s\nslog %s", json, i, msg, got.String(), want.String())
				}
			}
		}
	}
}

func BenchmarkRequestLine(b *testing.B) {
	for _, fast := range []bool{false, true} {
		name := "slog"
		if fast {
			name = "fast"
		}
		b.Run(name, func(b *testing.B) {
			var h slog.Handler = slog.NewTextHandler(discard{}, nil)
			if fast {
				h = newFastHandler(discard{}, false, &slog.HandlerOptions{})
			}
			l := slog.New(h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				attrs := [...]slog.Attr{slog.String("route", "/mcp"), slog.String("method", "POST"), slog.Int("status", 200),
					slog.Duration("duration", time.Millisecond), slog.String("mcp_method", "tools/call"), slog.String("mcp_era", "legacy"),
					slog.String("tool", "add"), slog.String("user_id", "user_01HXYZ"), slog.String("org_id", "org_acme"), slog.String("client_id", "mcp_client_X")}
				if fast {
					logRecord(ctx, l, slog.LevelInfo, "request", attrs[:]...)
				} else {
					l.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:]...)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// plainText, eight bytes at a time, agrees with plainByte for every byte
// at every position of a word and of the tail.
func TestPlainTextWords(t *testing.T) {
	slow := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !plainByte[s[i]] {
				return false
			}
		}
		return true
	}
	for n := 1; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(c)
				if got, want := plainText(string(b)), slow(string(b)); got != want {
					t.Fatalf("plainText(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	// Borrows and carries between bytes: pairs of edge bytes side by side.
	edges := []byte{0, ' ', '!', '"', '<', '=', '>', '[', '\\', ']', '~', 0x7f, 0x80, 0xff}
	for _, c1 := range edges {
		for _, c2 := range edges {
			for pos := 0; pos < 7; pos++ {
				b := []byte("abcdefgh")
				b[pos], b[pos+1] = c1, c2
				if got, want := plainText(string(b)), slow(string(b)); got != want {
					t.Fatalf("plainText(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// Lines a request holds, and the request line written after them, are
// what slog's handlers would write for the same records in the same order,
// records the fast path cannot write among them.
func TestHeldLinesMatchSlog(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 41, 14, 922_207_001, time.UTC)
	records := [][]slog.Attr{
		{slog.String("action", "tool.called"), slog.String("tool", "add"), slog.String("outcome", "ok")},
		{slog.String("action", "tool.called"), slog.String("tool", "")},
		{slog.String("action", "tool.called"), slog.String("tool", "has space")},
		{slog.String("action", "token.issued"), slog.String("grant_type", "refresh_token")},
	}
	for _, json := range []bool{false, true} {
		var want, got bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.LevelInfo}
		var std slog.Handler = slog.NewTextHandler(&want, opts)
		if json {
			std = slog.NewJSONHandler(&want, opts)
		}
		fh := newFastHandler(&got, json, opts)
		rc := &reqContext{Context: context.Background()}
		rc.rec.holding = true
		for _, attrs := range records {
			r := slog.NewRecord(at, slog.LevelInfo, "audit", 0)
			r.AddAttrs(attrs...)
			std.Handle(context.Background(), r)
			fh.HandleAttrs(rc, at, slog.LevelInfo, "audit", attrs)
		}
		var buf [14]slog.Attr
		rec := &reqRecord{mcpMethod: "tools/call", mcpEra: "modern", mcpCount: 2, mcpError: -32602, tool: "add",
			user: "user_1", client: "", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
		line := requestAttrs(buf[:0], rec, "/mcp", "POST", 200, 1500*time.Microsecond)
		r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
		r.AddAttrs(line...)
		std.Handle(context.Background(), r)
		fh.write(context.Background(), rc.rec.takeHeld(), at, slog.LevelInfo, "request", line)
		if got.String() != want.String() {
			t.Errorf("json=%v:\nfast %s\nslog %s", json, got.String(), want.String())
		}
	}
}

// An audit record written from its fields (audit.FieldHandler), held by a
// request or written at once, is byte for byte what slog's handlers write
// for the same attributes, for events with every combination of fields
// set, and values that need quoting or escaping; and every key an event
// can have is plain text, which the fast path relies on.
func TestAuditFieldsMatchSlog(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 41, 14, 922_207_001, time.UTC)
	values := []string{"", "v_01HXYZ", "has space", `quo"te`, "é", "line\nbreak"}
	full := audit.Event{Action: "a", ID: "i", UserID: "u", OrganizationID: "o", Impersonator: "p", ClientID: "c",
		GrantID: "g", Tool: "t", Outcome: "x", GrantType: "y", RemoteAddr: "r"}
	for _, f := range full.Fields(nil) {
		if !plainText(f.Key) {
			t.Fatalf("audit key %q is not plain text", f.Key)
		}
	}
	n := 0
	for _, json := range []bool{false, true} {
		for i := range 4096 {
			// Each field draws its value from values, spread by i.
			pick := func(k int) string { return values[(i>>(k%12)+k*7+i*k)%len(values)] }
			e := audit.Event{Action: audit.ActionToolCalled, ID: "audit_x_" + strconv.Itoa(i), UserID: pick(1),
				OrganizationID: pick(2), Impersonator: pick(3), ClientID: pick(4), GrantID: pick(5), Tool: pick(6),
				Outcome: pick(7), GrantType: pick(8), RemoteAddr: pick(9)}
			fields := e.Fields(nil)
			var want bytes.Buffer
			opts := &slog.HandlerOptions{}
			var std slog.Handler = slog.NewTextHandler(&want, opts)
			if json {
				std = slog.NewJSONHandler(&want, opts)
			}
			r := slog.NewRecord(at, slog.LevelInfo, "audit", 0)
			for _, f := range fields {
				r.AddAttrs(slog.String(f.Key, f.Value))
			}
			std.Handle(context.Background(), r)
			for _, held := range []bool{false, true} {
				var got bytes.Buffer
				fh := newFastHandler(&got, json, opts)
				rc := &reqContext{Context: context.Background()}
				rc.rec.holding = held
				fh.HandleFields(rc, at, slog.LevelInfo, "audit", fields)
				if bp := rc.rec.takeHeld(); bp != nil {
					fh.writeHeld(bp, *bp)
				}
				if got.String() != want.String() {
					t.Fatalf("json=%v held=%v:\nfast %s\nslog %s", json, held, got.String(), want.String())
				}
				n++
			}
		}
	}
	t.Logf("%d records compared", n)
}
