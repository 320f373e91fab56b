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

	"remote-mcp-authkit/audit"
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
// and plain bytes only. It looks at eight bytes at a time (SWAR: a byte's
// high bit in the masks below marks a byte outside the plain range, or
// equal to one of the three excluded bytes), the last eight overlapping
// the ones before when the length is not a multiple of eight; a string
// shorter than eight goes through plainByte.
func plainText(s string) bool {
	if len(s) < 8 {
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
	for i := 0; ; i += 8 {
		if i+8 > len(s) {
			i = len(s) - 8
		}
		if notPlain(word(s, i)) != 0 {
			return false
		}
		if i+8 == len(s) {
			return true
		}
	}
}

// word is s[i:i+8] as a little-endian word (the compiler makes it one load).
func word(s string, i int) uint64 {
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// notPlain is not zero when one of x's eight bytes is not plain: below
// '!' (space, controls), above '~' (DEL, non-ASCII), or '=', '"' or '\\'.
// The tests are the exact "has a byte less than n" and "has a byte more
// than n" word tricks (for n up to 128 and 127).
func notPlain(x uint64) uint64 {
	less := (x - ones*'!') & ^x
	more := (x + ones*(127-'~')) | x
	return (less | more | zeroByte(x^(ones*'=')) | zeroByte(x^(ones*'"')) | zeroByte(x^(ones*'\\'))) & highs
}

// zeroByte has the high bit of a byte set when x has a zero byte (and
// only then is it non-zero, once masked with highs).
func zeroByte(x uint64) uint64 { return (x - ones) & ^x }

func (h *fastHandler) Handle(ctx context.Context, r slog.Record) error {
	// Lines a request holds go out first, in their order (requestlog.go).
	var bp *[]byte
	if rec := recordFrom(ctx); rec != nil {
		bp = rec.takeHeld()
	}
	if bp == nil {
		bp = getBuf()
	}
	b := *bp
	n := len(b)
	// Written optimistically: a key or value the fast path cannot write
	// drops the line, and the standard handler writes the record.
	ok := plainText(r.Message) && fastTime(r.Time)
	if ok {
		b = h.begin(b, r.Time, r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b, ok = h.attr(b, a)
			return ok
		})
	}
	if ok {
		return h.end(bp, h.finish(b))
	}
	h.writeHeld(bp, b[:n])
	return h.std.Handle(ctx, r)
}

// HandleAttrs is Handle for a record given as its parts, with no Record
// (and its attribute slice) made when the fast path takes it. A record
// logged with the context of a request that holds its lines (a POST,
// until its request line: requestlog.go) joins them, so that the request's
// lines cost one Write.
func (h *fastHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	var bp *[]byte
	if rec := recordFrom(ctx); rec != nil {
		var held bool
		if bp, held = rec.hold(h, func(b []byte) ([]byte, bool) { return h.format(b, t, level, msg, attrs) }); held {
			return nil
		}
	}
	return h.write(ctx, bp, t, level, msg, attrs)
}

// HandleFields is HandleAttrs for a record of string attributes whose
// keys are plain text (audit.FieldHandler): every tools/call's audit
// record, written with no slog.Attr made and no key checked.
func (h *fastHandler) HandleFields(ctx context.Context, t time.Time, level slog.Level, msg string, fields []audit.Field) error {
	var bp *[]byte
	if rec := recordFrom(ctx); rec != nil {
		var held bool
		if bp, held = rec.hold(h, func(b []byte) ([]byte, bool) { return h.formatFields(b, t, level, msg, fields) }); held {
			return nil
		}
	}
	if bp == nil {
		bp = getBuf()
	}
	n := len(*bp)
	if b, ok := h.formatFields(*bp, t, level, msg, fields); ok {
		return h.end(bp, b)
	}
	*bp = (*bp)[:n]
	return h.fieldsSlowly(ctx, bp, t, level, msg, fields)
}

// fieldsSlowly writes a record of fields that needs what only the
// standard handler writes, after the lines in bp. Out of line: its
// attributes' array stays off the stack of the common path.
//
//go:noinline
func (h *fastHandler) fieldsSlowly(ctx context.Context, bp *[]byte, t time.Time, level slog.Level, msg string, fields []audit.Field) error {
	var buf [16]slog.Attr
	attrs := buf[:0]
	for _, f := range fields {
		attrs = append(attrs, slog.String(f.Key, f.Value))
	}
	return h.write(ctx, bp, t, level, msg, attrs)
}

// formatFields is format for string fields whose keys are plain text.
func (h *fastHandler) formatFields(b []byte, t time.Time, level slog.Level, msg string, fields []audit.Field) ([]byte, bool) {
	if !plainText(msg) || !fastTime(t) {
		return b, false
	}
	b = h.begin(b, t, level, msg)
	for _, f := range fields {
		var ok bool
		if b, ok = h.str(h.key(b, f.Key), f.Value); !ok {
			return b, false
		}
	}
	return h.finish(b), true
}

// write writes a record after the lines in bp (a pooled buffer, or nil
// for none): in one Write when the fast path takes the record, else the
// lines and then the standard handler's.
func (h *fastHandler) write(ctx context.Context, bp *[]byte, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	if bp == nil {
		bp = getBuf()
	}
	n := len(*bp)
	b, ok := h.format(*bp, t, level, msg, attrs)
	if ok {
		return h.end(bp, b)
	}
	h.writeHeld(bp, b[:n])
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.std.Handle(ctx, r)
}

// format appends the record's whole line, or reports false when it needs
// what only the standard handler writes (b then holds a partial line).
func (h *fastHandler) format(b []byte, t time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	if !plainText(msg) || !fastTime(t) {
		return b, false
	}
	b = h.begin(b, t, level, msg)
	for i := range attrs {
		var ok bool
		if b, ok = h.attr(b, attrs[i]); !ok {
			return b, false
		}
	}
	return h.finish(b), true
}

// finish ends a line that begin started.
func (h *fastHandler) finish(b []byte) []byte {
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// writeHeld writes b, lines that were held (if any), and gives its pooled
// buffer bp back.
func (h *fastHandler) writeHeld(bp *[]byte, b []byte) {
	if len(b) > 0 {
		h.w.Write(b)
	}
	h.putBuf(bp, b)
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
	b = h.key(b, a.Key)
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return h.str(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		return h.duration(b, v.Duration()), true
	}
	return b, false
}

// key appends an attribute's key, which the caller knows to be plain.
func (h *fastHandler) key(b []byte, k string) []byte {
	if h.json {
		b = append(b, `,"`...)
		b = append(b, k...)
		return append(b, `":`...)
	}
	b = append(b, ' ')
	b = append(b, k...)
	return append(b, '=')
}

// str appends a string value, or reports false when it needs escaping.
// Both handlers quote the empty string.
func (h *fastHandler) str(b []byte, s string) ([]byte, bool) {
	if s == "" {
		return append(b, `""`...), true
	}
	if !plainText(s) {
		return b, false
	}
	if h.json {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"'), true
	}
	return append(b, s...), true
}

// kv appends a key (known to be plain) and a string value, when ok (the
// line so far could be written); it reports whether it could.
func (h *fastHandler) kv(b []byte, k, v string, ok bool) ([]byte, bool) {
	if !ok {
		return b, false
	}
	return h.str(h.key(b, k), v)
}

// kvPlain appends a key and a string value that the caller checked is
// plain text (a route label, a validated traceparent).
func (h *fastHandler) kvPlain(b []byte, k, v string) []byte {
	b = h.key(b, k)
	if h.json {
		b = append(b, '"')
		b = append(b, v...)
		return append(b, '"')
	}
	return append(b, v...)
}

// duration appends d as the text handler (time.Duration.String) or the
// JSON handler (integer nanoseconds) writes it.
func (h *fastHandler) duration(b []byte, d time.Duration) []byte {
	if h.json {
		return strconv.AppendInt(b, int64(d), 10)
	}
	return append(b, d.String()...)
}

// end writes b, whole lines, and gives its pooled buffer bp back.
func (h *fastHandler) end(bp *[]byte, b []byte) error {
	_, err := h.w.Write(b)
	h.putBuf(bp, b)
	return err
}

func getBuf() *[]byte {
	bp := fastBufs.Get().(*[]byte)
	*bp = (*bp)[:0]
	return bp
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
