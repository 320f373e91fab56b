package oauth

// The stored form of the records every signed-in user keeps: grants, access
// and refresh token records, and registered clients. They are most of what the store holds (one of
// each per user), so they are written in a compact binary form rather than
// JSON: field names, RFC 3339 times, base64 of sealed bytes and hex of
// SHA-256 hashes made a grant about twice its content.
//
// A binary record starts with recordBinaryV1; a JSON record (what earlier
// versions wrote, and every other kind of record) starts with '{', so both
// read back through unmarshalRecord and a store written before keeps
// working. Its fields follow in a fixed order, each one of:
//
//	string  uvarint length, then the bytes
//	time    varint Unix nanoseconds, 0 for the zero time
//	hash    1 and 32 bytes for a SHA-256 in lower-case hex (what hashToken
//	        returns), else 0 and a string
//	id      1+i and 17 bytes for recordIDPrefixes[i] followed by the 26
//	        base32 characters of rand.Text (5 bits each), else 0 and a
//	        string
//	list    uvarint count, then each item (a list that may be nil, as
//	        opposed to empty: the count plus one, 0 for nil)

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// recordBinaryV1 marks a record in the binary form above. Any other first
// byte but '{' is an error, so a later version can tell itself apart.
const recordBinaryV1 = 0xB1

// binaryRecord is a record with a binary stored form.
type binaryRecord interface {
	appendRecord(b []byte) []byte
	readRecord(r *recordReader) error
}

var (
	_ binaryRecord = (*grant)(nil)
	_ binaryRecord = (*accessRecord)(nil)
	_ binaryRecord = (*refreshRecord)(nil)
	_ binaryRecord = (*Client)(nil)
)

// unmarshalRecord decodes a stored record into v, in whichever form it was
// written.
func unmarshalRecord(b []byte, v any) error {
	br, ok := v.(binaryRecord)
	if len(b) == 0 || b[0] == '{' || !ok {
		return json.Unmarshal(b, v)
	}
	if b[0] != recordBinaryV1 {
		return fmt.Errorf("unknown record format %#x", b[0])
	}
	r := &recordReader{b: b[1:]}
	if err := br.readRecord(r); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d trailing bytes in record", len(r.b))
	}
	return nil
}

func recordAppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func recordAppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func recordAppendHash(b []byte, h string) []byte {
	if len(h) == 64 {
		var raw [32]byte
		if _, err := hex.Decode(raw[:], []byte(h)); err == nil && hex.EncodeToString(raw[:]) == h {
			return append(append(b, 1), raw[:]...)
		}
	}
	return recordAppendString(append(b, 0), h)
}

// recordIDPrefixes are the prefixes of the IDs records hold (grant and
// client IDs, each followed by rand.Text's 26 characters).
var recordIDPrefixes = []string{"grant_", prefixClientID}

const recordBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // RFC 4648, as rand.Text writes

func recordAppendID(b []byte, id string) []byte {
	for i, p := range recordIDPrefixes {
		rest, ok := strings.CutPrefix(id, p)
		if !ok || len(rest) != 26 {
			continue
		}
		var packed [17]byte
		bit := 0
		for j := range len(rest) {
			v := strings.IndexByte(recordBase32, rest[j])
			if v < 0 {
				return recordAppendString(append(b, 0), id)
			}
			for k := 4; k >= 0; k-- {
				if v>>k&1 != 0 {
					packed[bit/8] |= 0x80 >> (bit % 8)
				}
				bit++
			}
		}
		return append(append(b, byte(1+i)), packed[:]...)
	}
	return recordAppendString(append(b, 0), id)
}

// recordAppendOptionalList is a list that keeps nil apart from empty:
// uvarint 0 for nil, else the count plus one, then the strings.
func recordAppendOptionalList(b []byte, list []string) []byte {
	if list == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(list))+1)
	for _, s := range list {
		b = recordAppendString(b, s)
	}
	return b
}

func recordAppendList(b []byte, list []string, item func([]byte, string) []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = item(b, s)
	}
	return b
}

// recordReader reads the fields of a binary record; the first error sticks
// and later reads return zero values.
type recordReader struct {
	b   []byte
	err error
}

var errRecordShort = errors.New("record cut short")

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecordShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errRecordShort
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *recordReader) string() string { return string(r.take(r.uvarint())) }

func (r *recordReader) bytes() []byte {
	v := r.take(r.uvarint())
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (r *recordReader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errRecordShort
		return time.Time{}
	}
	r.b = r.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (r *recordReader) hash() string {
	switch tag := r.take(1); {
	case r.err != nil:
		return ""
	case tag[0] == 1:
		return hex.EncodeToString(r.take(32))
	case tag[0] == 0:
		return r.string()
	default:
		r.err = fmt.Errorf("bad hash tag %d", tag[0])
		return ""
	}
}

func (r *recordReader) id() string {
	tag := r.take(1)
	switch {
	case r.err != nil:
		return ""
	case tag[0] == 0:
		return r.string()
	case int(tag[0]) > len(recordIDPrefixes):
		r.err = fmt.Errorf("bad id tag %d", tag[0])
		return ""
	}
	packed := r.take(17)
	if r.err != nil {
		return ""
	}
	p := recordIDPrefixes[tag[0]-1]
	out := make([]byte, len(p)+26)
	copy(out, p)
	for j := range 26 {
		v := 0
		for k := range 5 {
			bit := j*5 + k
			v = v<<1 | int(packed[bit/8]>>(7-bit%8)&1)
		}
		out[len(p)+j] = recordBase32[v]
	}
	return string(out)
}

func (r *recordReader) optionalList() []string {
	n := r.uvarint()
	switch {
	case r.err != nil || n == 0:
		return nil
	case n-1 > uint64(len(r.b)):
		r.err = errRecordShort
		return nil
	}
	list := make([]string, n-1)
	for i := range list {
		list[i] = r.string()
	}
	return list
}

func (r *recordReader) list(item func() string) []string {
	n := r.uvarint()
	if n > uint64(len(r.b)) { // every item takes at least a byte
		r.err = errRecordShort
		return nil
	}
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = item()
	}
	return list
}

// grantIdentityOwn flags a grant whose Identity names the grant's own
// client, ID and resource, as every grant's does: they are not written
// twice.
const grantIdentityOwn = 1

// grantImpersonated flags a grant whose Identity has an Impersonator,
// written after the session ID.
const grantImpersonated = 2

// grantShown flags a grant carrying what the account page shows (the
// client's declared name and the redirect URI its code went to), written
// last; grants written before those fields existed lack the flag.
const grantShown = 4

func (g *grant) appendRecord(b []byte) []byte {
	b = append(b, recordBinaryV1)
	b = recordAppendID(b, g.ID)
	b = recordAppendID(b, g.ClientID)
	b = recordAppendString(b, g.Resource)
	b = recordAppendString(b, g.Scope)
	id := g.Identity
	var flags byte
	if id.ClientID == g.ClientID && id.GrantID == g.ID && id.Resource == g.Resource {
		flags |= grantIdentityOwn
	}
	if id.Impersonator != nil {
		flags |= grantImpersonated
	}
	if g.ClientName != "" || g.RedirectURI != "" {
		flags |= grantShown
	}
	b = append(b, flags)
	b = recordAppendString(b, id.Subject)
	b = recordAppendString(b, id.Email)
	b = recordAppendString(b, id.Name)
	b = recordAppendString(b, id.OrganizationID)
	b = recordAppendString(b, id.Organization)
	b = recordAppendString(b, id.Role)
	b = recordAppendList(b, id.Permissions, recordAppendString)
	b = recordAppendString(b, id.SessionID)
	if id.Impersonator != nil {
		b = recordAppendString(b, id.Impersonator.Email)
		b = recordAppendString(b, id.Impersonator.Reason)
	}
	if flags&grantIdentityOwn == 0 {
		b = recordAppendID(b, id.ClientID)
		b = recordAppendID(b, id.GrantID)
		b = recordAppendString(b, id.Resource)
	}
	b = recordAppendOptionalList(b, id.Scopes)
	b = recordAppendString(b, string(g.Upstream))
	b = recordAppendTime(b, g.CreatedAt)
	b = recordAppendTime(b, g.ExpiresAt)
	b = recordAppendHash(b, g.RefreshHash)
	b = recordAppendString(b, string(g.CurrentSealed))
	b = recordAppendHash(b, g.PrevRefreshHash)
	b = recordAppendTime(b, g.PrevRefreshUntil)
	b = recordAppendList(b, g.Spent, recordAppendHash)
	b = recordAppendHash(b, g.AccessHash)
	b = recordAppendHash(b, g.PrevAccessHash)
	b = recordAppendString(b, string(g.CurrentAccessSealed))
	b = recordAppendTime(b, g.UpstreamInDoubt)
	if flags&grantShown != 0 {
		b = recordAppendString(b, g.ClientName)
		b = recordAppendString(b, g.RedirectURI)
	}
	return b
}

func (g *grant) readRecord(r *recordReader) error {
	*g = grant{}
	g.ID = r.id()
	g.ClientID = r.id()
	g.Resource = r.string()
	g.Scope = r.string()
	flags := r.take(1)
	id := &g.Identity
	id.Subject = r.string()
	id.Email = r.string()
	id.Name = r.string()
	id.OrganizationID = r.string()
	id.Organization = r.string()
	id.Role = r.string()
	id.Permissions = r.list(r.string)
	id.SessionID = r.string()
	if r.err != nil {
		return r.err
	}
	if flags[0]&grantImpersonated != 0 {
		id.Impersonator = &Impersonator{Email: r.string(), Reason: r.string()}
	}
	if flags[0]&grantIdentityOwn != 0 {
		id.ClientID, id.GrantID, id.Resource = g.ClientID, g.ID, g.Resource
	} else {
		id.ClientID = r.id()
		id.GrantID = r.id()
		id.Resource = r.string()
	}
	id.Scopes = r.optionalList()
	g.Upstream = r.bytes()
	g.CreatedAt = r.time()
	g.ExpiresAt = r.time()
	g.RefreshHash = r.hash()
	g.CurrentSealed = r.bytes()
	g.PrevRefreshHash = r.hash()
	g.PrevRefreshUntil = r.time()
	g.Spent = r.list(r.hash)
	g.AccessHash = r.hash()
	g.PrevAccessHash = r.hash()
	g.CurrentAccessSealed = r.bytes()
	g.UpstreamInDoubt = r.time()
	if flags[0]&grantShown != 0 {
		g.ClientName = r.string()
		g.RedirectURI = r.string()
	}
	return r.err
}

func (a *accessRecord) appendRecord(b []byte) []byte {
	b = append(b, recordBinaryV1)
	b = recordAppendID(b, a.GrantID)
	b = recordAppendID(b, a.ClientID)
	b = recordAppendString(b, a.Resource)
	b = recordAppendTime(b, a.ExpiresAt)
	return recordAppendString(b, a.Scope)
}

func (a *accessRecord) readRecord(r *recordReader) error {
	*a = accessRecord{GrantID: r.id(), ClientID: r.id(), Resource: r.string(), ExpiresAt: r.time(), Scope: r.string()}
	return r.err
}

func (rr *refreshRecord) appendRecord(b []byte) []byte {
	b = append(b, recordBinaryV1)
	b = recordAppendID(b, rr.GrantID)
	return recordAppendID(b, rr.ClientID)
}

func (rr *refreshRecord) readRecord(r *recordReader) error {
	*rr = refreshRecord{GrantID: r.id(), ClientID: r.id()}
	return r.err
}

// clientUnused is Client.Unused in a client record's flags.
const clientUnused = 1

func (c *Client) appendRecord(b []byte) []byte {
	b = append(b, recordBinaryV1)
	var flags byte
	if c.Unused {
		flags |= clientUnused
	}
	b = append(b, flags)
	b = recordAppendID(b, c.ClientID)
	b = recordAppendHash(b, c.SecretHash)
	b = recordAppendString(b, c.TokenEndpointAuthMethod)
	b = recordAppendList(b, c.RedirectURIs, recordAppendString)
	b = recordAppendList(b, c.GrantTypes, recordAppendString)
	b = recordAppendList(b, c.ResponseTypes, recordAppendString)
	b = recordAppendString(b, c.ClientName)
	b = recordAppendString(b, c.ClientURI)
	b = recordAppendString(b, c.LogoURI)
	b = recordAppendString(b, c.Scope)
	b = recordAppendList(b, c.Contacts, recordAppendString)
	b = recordAppendString(b, c.TOSURI)
	b = recordAppendString(b, c.PolicyURI)
	b = recordAppendString(b, c.SoftwareID)
	b = recordAppendString(b, c.SoftwareVersion)
	return binary.AppendVarint(b, c.IssuedAt)
}

func (c *Client) readRecord(r *recordReader) error {
	*c = Client{}
	flags := r.take(1)
	if r.err != nil {
		return r.err
	}
	c.Unused = flags[0]&clientUnused != 0
	c.ClientID = r.id()
	c.SecretHash = r.hash()
	c.TokenEndpointAuthMethod = r.string()
	c.RedirectURIs = r.list(r.string)
	c.GrantTypes = r.list(r.string)
	c.ResponseTypes = r.list(r.string)
	c.ClientName = r.string()
	c.ClientURI = r.string()
	c.LogoURI = r.string()
	c.Scope = r.string()
	c.Contacts = r.list(r.string)
	c.TOSURI = r.string()
	c.PolicyURI = r.string()
	c.SoftwareID = r.string()
	c.SoftwareVersion = r.string()
	if r.err != nil {
		return r.err
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		return errRecordShort
	}
	r.b = r.b[n:]
	c.IssuedAt = v
	return nil
}
