package jsonscan

import "iter"

// A Cursor reads a document that has not been validated yet, validating it
// as it goes, so that a caller who wants a few members of nested objects
// (a JSON-RPC message, its params, their _meta) reads every byte once
// instead of once for Valid and again per level with Members.
//
// The cursor stands before one value at a time. Members descends into an
// object at the cursor; Value consumes the value at the cursor and returns
// it. A member whose value the loop body leaves alone is skipped (and
// validated) before the next one. Once the whole document has been read,
// Done reports whether it was one valid JSON value: for any way of reading
// it, Done agrees with Valid (and so with encoding/json), nesting limit
// included. On invalid input the cursor stops early and yields no more; the
// values it returned before are still slices of the input.
type Cursor struct {
	data  []byte
	i     int  // the index of the value at the cursor, or past the last one read
	depth int  // the objects Members has opened and not yet closed
	bad   bool // the document is invalid, or a Members loop was broken off
	read  bool // the document's value has been read to its end
}

// NewCursor returns a cursor before the one value of data.
func NewCursor(data []byte) Cursor {
	return Cursor{data: data, i: skipSpace(data, 0)}
}

// Kind returns the kind of the value at the cursor, from its first byte
// (the value itself is not checked until it is read), or Invalid when
// there is none or the document already failed.
func (c *Cursor) Kind() Kind {
	if c.bad || c.i >= len(c.data) {
		return Invalid
	}
	return KindOf(c.data[c.i:])
}

// Offset is the index in the document of the value at the cursor; with
// Since it delimits a value read through Members.
func (c *Cursor) Offset() int { return c.i }

// Since returns the document from offset to just past what has been read.
func (c *Cursor) Since(offset int) []byte { return c.data[offset:c.i] }

// Value reads the value at the cursor, validating it, and returns it
// (without surrounding whitespace); nil when it is invalid, after which the
// cursor has failed.
func (c *Cursor) Value() []byte {
	if c.bad {
		return nil
	}
	start := c.i
	end, ok := scanValueLimit(c.data, start, maxDepth-c.depth)
	if !ok {
		c.bad = true
		return nil
	}
	c.i, c.read = end, c.depth == 0
	return c.data[start:end]
}

// Members reads the object at the cursor, yielding each member's name
// (quoted and escaped as in the document, as Members yields it) with the
// cursor before the member's value. A value the loop body neither reads
// nor descends into is skipped. Breaking out of the loop fails the cursor:
// the rest of the document is then unread, so it cannot be called valid.
// If the value at the cursor is not an object, Members yields nothing and
// the cursor fails.
func (c *Cursor) Members() iter.Seq[[]byte] {
	return func(yield func(name []byte) bool) {
		data := c.data
		i := c.i
		if c.bad || i >= len(data) || data[i] != '{' || c.depth == maxDepth {
			c.bad = true
			return
		}
		c.depth++
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			c.close(i)
			return
		}
		for {
			if i >= len(data) || data[i] != '"' {
				break
			}
			end, ok := scanString(data, i)
			if !ok {
				break
			}
			name := data[i:end]
			// The name is scanned once: what follows is the colon.
			if i = skipSpace(data, end); i >= len(data) || data[i] != ':' {
				break
			}
			i = skipSpace(data, i+1)
			c.i = i
			if !yield(name) {
				break
			}
			if c.bad {
				return
			}
			if c.i == i && c.Value() == nil { // left alone: skip it
				return
			}
			i = skipSpace(data, c.i)
			if i < len(data) && data[i] == '}' {
				c.close(i)
				return
			}
			if i >= len(data) || data[i] != ',' {
				break
			}
			i = skipSpace(data, i+1)
		}
		c.bad = true
	}
}

// close ends the object whose closing brace is data[i].
func (c *Cursor) close(i int) {
	c.i, c.depth = i+1, c.depth-1
	c.read = c.depth == 0
}

// Done reports whether the document has been read to its end and was one
// valid JSON value with optional whitespace around it.
func (c *Cursor) Done() bool {
	return !c.bad && c.read && skipSpace(c.data, c.i) == len(c.data)
}
