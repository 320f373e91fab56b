package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
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
