package main

// A faster way to the same log lines: the request line and the audit
// record are written for every request, and log/slog's handlers spend
// microseconds on each (escaping checks per attribute, an attribute slice
// per record). fastHandler writes, byte for byte, what slog's TextHandler
// or JSONHandler would write, for the common record: a plain message and
// attributes whose keys and string values need no quoting or escaping
// (ids, routes, methods, tool names, trace ids), with string, integer,
// boolean and duration values. Any other record goes to the standard
// handler. TestFastHandlerMatchesSlog holds the two to each other.

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

type fastHandler struct {
	std   slog.Handler
	json  bool
	level slog.Leveler
	w     io.Writer
}

// newFastHandler returns a handler writing text (or JSON) records to w
// with opts' level; opts may set nothing else.
func newFastHandler(w io.Writer, json bool, opts *slog.HandlerOptions) *fastHandler {
	h := &fastHandler{json: json, level: opts.Level, w: w}
	if h.level == nil {
		h.level = slog.LevelInfo
	}
	if json {
		h.std = slog.NewJSONHandler(w, opts)
	} else {
		h.std = slog.NewTextHandler(w, opts)
	}
	return h
}

func (h *fastHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs and WithGroup hand over to the standard handler: derived
// loggers are not on the hot path.
func (h *fastHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.std.WithAttrs(as) }
func (h *fastHandler) WithGroup(name string) slog.Handler    { return h.std.WithGroup(name) }

var fastBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// plainText reports whether s is written as is by both handlers: not empty,
// printable ASCII without space, '=', '"' or '\'.
func plainText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '=' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func fastValue(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString:
		return plainText(v.String())
	case slog.KindInt64, slog.KindUint64, slog.KindBool, slog.KindDuration:
		return true
	}
	return false
}

func (h *fastHandler) Handle(ctx context.Context, r slog.Record) error {
	ok := plainText(r.Message) && fastTime(r.Time)
	if ok {
		r.Attrs(func(a slog.Attr) bool {
			ok = plainText(a.Key) && fastValue(a.Value)
			return ok
		})
	}
	if !ok {
		return h.std.Handle(ctx, r)
	}
	bp := fastBufs.Get().(*[]byte)
	b := h.begin((*bp)[:0], r.Time, r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b = h.attr(b, a)
		return true
	})
	return h.end(bp, b)
}

// HandleAttrs is Handle for a record given as its parts, with no Record
// (and its attribute slice) made when the fast path takes it.
func (h *fastHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	ok := plainText(msg) && fastTime(t)
	for i := 0; ok && i < len(attrs); i++ {
		ok = plainText(attrs[i].Key) && fastValue(attrs[i].Value)
	}
	if !ok {
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		return h.std.Handle(ctx, r)
	}
	bp := fastBufs.Get().(*[]byte)
	b := h.begin((*bp)[:0], t, level, msg)
	for _, a := range attrs {
		b = h.attr(b, a)
	}
	return h.end(bp, b)
}

func fastTime(t time.Time) bool {
	y := t.Year()
	return !t.IsZero() && y >= 0 && y < 10000
}

func (h *fastHandler) begin(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if h.json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":"`...)
		b = append(b, msg...)
		return append(b, '"')
	}
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t)
	b = append(b, " level="...)
	b = append(b, level.String()...)
	b = append(b, " msg="...)
	return append(b, msg...)
}

func (h *fastHandler) attr(b []byte, a slog.Attr) []byte {
	if h.json {
		b = append(b, `,"`...)
		b = append(b, a.Key...)
		b = append(b, `":`...)
	} else {
		b = append(b, ' ')
		b = append(b, a.Key...)
		b = append(b, '=')
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		if h.json {
			b = append(b, '"')
			b = append(b, v.String()...)
			return append(b, '"')
		}
		return append(b, v.String()...)
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		if h.json {
			return strconv.AppendInt(b, int64(v.Duration()), 10)
		}
		return append(b, v.Duration().String()...)
	}
	return b
}

func (h *fastHandler) end(bp *[]byte, b []byte) error {
	if h.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	_, err := h.w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		fastBufs.Put(bp)
	}
	return err
}

// appendRFC3339Millis is slog's text time format: RFC 3339 with exactly
// three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// logRecord writes a record at level through l's handler directly, as
// slog.Logger.LogAttrs would but without looking up the caller's program
// counter, which no handler of ours prints.
func logRecord(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	h := l.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	if fh, ok := h.(*fastHandler); ok {
		fh.HandleAttrs(ctx, time.Now(), level, msg, attrs)
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	h.Handle(ctx, r)
}
