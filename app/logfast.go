package app

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
	"sync/atomic"
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

// plainByte marks the bytes written as is by both handlers: printable
// ASCII other than space, '=', '"' and '\'.
var plainByte = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = c != '=' && c != '"' && c != '\\'
	}
	return t
}()

// plainText reports whether s is written as is by both handlers: not empty,
// and plain bytes only.
func plainText(s string) bool {
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

func (h *fastHandler) Handle(ctx context.Context, r slog.Record) error {
	if !plainText(r.Message) || !fastTime(r.Time) {
		return h.std.Handle(ctx, r)
	}
	// Written optimistically: a key or value the fast path cannot write
	// drops the line, and the standard handler writes the record.
	bp := fastBufs.Get().(*[]byte)
	b := h.begin((*bp)[:0], r.Time, r.Level, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = h.attr(b, a)
		return ok
	})
	if !ok {
		h.putBuf(bp, b)
		return h.std.Handle(ctx, r)
	}
	return h.end(bp, b)
}

// HandleAttrs is Handle for a record given as its parts, with no Record
// (and its attribute slice) made when the fast path takes it.
func (h *fastHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	ok := plainText(msg) && fastTime(t)
	var bp *[]byte
	var b []byte
	if ok {
		bp = fastBufs.Get().(*[]byte)
		b = h.begin((*bp)[:0], t, level, msg)
		for i := 0; ok && i < len(attrs); i++ {
			b, ok = h.attr(b, attrs[i])
		}
		if ok {
			return h.end(bp, b)
		}
		h.putBuf(bp, b)
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.std.Handle(ctx, r)
}

// The Unix seconds of 0001-01-02 and 9999-12-31: between them a time's
// year has four digits in every zone, which both handlers' formats need.
const (
	minFastUnix = -62135510400
	maxFastUnix = 253402214400
)

// fastTime reports whether t is written by the fast path: not zero, and
// with a four-digit year (checked on its Unix seconds, which is cheaper
// than computing the year; the edges go to the standard handler).
func fastTime(t time.Time) bool {
	u := t.Unix()
	return !t.IsZero() && u > minFastUnix && u < maxFastUnix
}

// secondText is a time's text up to its second ("2006-01-02T15:04:05")
// and its zone ("Z", "+01:00"), for one second in one location: every
// record of a second shares it, so a record formats only its fraction.
type secondText struct {
	sec        int64
	loc        *time.Location
	head, zone []byte
}

var lastSecond atomic.Pointer[secondText]

func secondOf(t time.Time) *secondText {
	sec, loc := t.Unix(), t.Location()
	if c := lastSecond.Load(); c != nil && c.sec == sec && c.loc == loc {
		return c
	}
	// A zone's offset changes only on a whole second, so one second in
	// one location has one offset.
	b := t.Truncate(time.Second).AppendFormat(make([]byte, 0, 32), time.RFC3339)
	c := &secondText{sec: sec, loc: loc, head: b[:19], zone: b[19:]}
	lastSecond.Store(c)
	return c
}

// appendTime appends t as slog's text handler writes it (RFC 3339 with
// exactly three digits of milliseconds) or, for json, as its JSON handler
// does (time.RFC3339Nano).
func appendTime(b []byte, t time.Time, json bool) []byte {
	c := secondOf(t)
	b = append(b, c.head...)
	ns := t.Nanosecond()
	if !json {
		ms := ns / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	} else if ns != 0 {
		var d [10]byte
		d[0] = '.'
		for i := 9; i > 0; i-- {
			d[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, c.zone...)
}

func (h *fastHandler) begin(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if h.json {
		b = append(b, `{"time":"`...)
		b = appendTime(b, t, true)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":"`...)
		b = append(b, msg...)
		return append(b, '"')
	}
	b = append(b, "time="...)
	b = appendTime(b, t, false)
	b = append(b, " level="...)
	b = append(b, level.String()...)
	b = append(b, " msg="...)
	return append(b, msg...)
}

// attr appends a's key and value, or reports false when either needs
// what only the standard handler writes (quoting, escaping, other kinds).
func (h *fastHandler) attr(b []byte, a slog.Attr) ([]byte, bool) {
	if !plainText(a.Key) {
		return b, false
	}
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
		s := v.String()
		if !plainText(s) {
			return b, false
		}
		if h.json {
			b = append(b, '"')
			b = append(b, s...)
			return append(b, '"'), true
		}
		return append(b, s...), true
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		if h.json {
			return strconv.AppendInt(b, int64(v.Duration()), 10), true
		}
		return append(b, v.Duration().String()...), true
	}
	return b, false
}

func (h *fastHandler) end(bp *[]byte, b []byte) error {
	if h.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	_, err := h.w.Write(b)
	h.putBuf(bp, b)
	return err
}

func (h *fastHandler) putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b
		fastBufs.Put(bp)
	}
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
