package oauth

import (
	"crypto/rand"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recordFill sets every field of the struct v points to, recursively, to a
// non-zero value, so that a field the binary form forgets shows up as a
// difference after a round trip.
func recordFill(t *testing.T, v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("value of " + name)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int64:
		v.SetInt(int64(len(name)) << 40)
	case reflect.Slice:
		switch v.Type().Elem().Kind() {
		case reflect.Uint8:
			v.SetBytes([]byte("bytes of " + name))
		case reflect.String:
			v.Set(reflect.ValueOf([]string{hashToken("one " + name), "two " + name}))
		default:
			t.Fatalf("recordFill: no rule for %s (%s)", name, v.Type())
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		recordFill(t, v.Elem(), name)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1767323045, int64(len(name))).UTC()))
			return
		}
		for i := range v.NumField() {
			recordFill(t, v.Field(i), name+"."+v.Type().Field(i).Name)
		}
	default:
		t.Fatalf("recordFill: no rule for %s (%s)", name, v.Type())
	}
}

// TestBinaryRecordsRoundTrip: every field of the records with a binary
// form survives it (a field added to grant and not to its encoding fails
// here), an old JSON record reads the same, and a damaged record is an
// error, never a panic.
func TestBinaryRecordsRoundTrip(t *testing.T) {
	own := &grant{ID: "grant_" + rand.Text(), ClientID: prefixClientID + rand.Text(), RefreshHash: hashToken("r"), AccessHash: hashToken("a"),
		Identity: Identity{Subject: "user_1", Permissions: []string{"p"}},
		Spent:    []string{hashToken("s1"), hashToken("s2")}, ExpiresAt: time.Unix(1767323045, 0).UTC()}
	own.Identity.ClientID, own.Identity.GrantID = own.ClientID, own.ID
	own.Identity.Scopes = []string{} // none granted, which is not "scopes unused" (nil)
	filled := &grant{}
	recordFill(t, reflect.ValueOf(filled).Elem(), "grant")
	client := &Client{}
	recordFill(t, reflect.ValueOf(client).Elem(), "client")
	client.MetadataDocument = false // never stored: such clients are fetched
	access, refresh := &accessRecord{}, &refreshRecord{}
	recordFill(t, reflect.ValueOf(access).Elem(), "access")
	recordFill(t, reflect.ValueOf(refresh).Elem(), "refresh")
	for name, c := range map[string]struct {
		in  binaryRecord
		out func() binaryRecord
	}{
		"grant, own identity": {own, func() binaryRecord { return &grant{} }},
		"grant, every field":  {filled, func() binaryRecord { return &grant{} }},
		"access":              {access, func() binaryRecord { return &accessRecord{} }},
		"refresh":             {refresh, func() binaryRecord { return &refreshRecord{} }},
		"client":              {client, func() binaryRecord { return &Client{} }},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := marshalRecord(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != recordBinaryV1 {
				t.Fatalf("record starts %#x, want the binary form", b[0])
			}
			got := c.out()
			if err := unmarshalRecord(b, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.in) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.in)
			}
			js, err := json.Marshal(c.in)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON := c.out()
			if err := unmarshalRecord(js, fromJSON); err != nil || !reflect.DeepEqual(fromJSON, c.in) {
				t.Fatalf("JSON form: %v\n got %+v\nwant %+v", err, fromJSON, c.in)
			}
			if len(b) >= len(js) {
				t.Errorf("binary form %d bytes, JSON %d: no smaller", len(b), len(js))
			}
			for n := range len(b) {
				if err := unmarshalRecord(b[:n], c.out()); err == nil && n > 0 {
					t.Fatalf("a record cut to %d of %d bytes decoded without error", n, len(b))
				}
			}
			if err := unmarshalRecord(append(b, 0), c.out()); err == nil {
				t.Fatal("a record with a trailing byte decoded without error")
			}
			if err := unmarshalRecord(append([]byte{0xB2}, b[1:]...), c.out()); err == nil {
				t.Fatal("an unknown format decoded without error")
			}
		})
	}
}

// TestRecordIDs: IDs of ours pack into 18 bytes and come back exact; any
// other string is kept as it is.
func TestRecordIDs(t *testing.T) {
	ids := []string{"", "grant_", "grant_abc", "mcp_client_" + strings.ToLower(rand.Text()), "grant_" + rand.Text() + "A",
		"grant_" + strings.Repeat("8", 26), "https://app.example.com/client.json", "other_" + rand.Text()}
	for range 1000 {
		ids = append(ids, "grant_"+rand.Text(), prefixClientID+rand.Text())
	}
	ids = append(ids, "grant_"+strings.Repeat("A", 26), "grant_"+strings.Repeat("7", 26))
	for _, id := range ids {
		b := recordAppendID(nil, id)
		r := &recordReader{b: b}
		if got := r.id(); got != id || r.err != nil || len(r.b) != 0 {
			t.Fatalf("%q came back as %q (%v, %d bytes left)", id, got, r.err, len(r.b))
		}
		if strings.HasPrefix(id, "grant_") && len(id) == 32 && !strings.ContainsAny(id[6:], "8abc") && len(b) != 18 {
			t.Fatalf("%q takes %d bytes, want 18", id, len(b))
		}
	}
}
