package oauth_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkit"
)

// A WorkOS refresh that succeeded is never thrown away: WorkOS rotates its
// signing key and its key set endpoint answers 500 for a while. The refresh
// is answered "retry", and the retry works once the key set is back;
// before, the new WorkOS refresh token was dropped and the retry, with the
// spent one, revoked the grant.
func TestHostileAuthKitKeySetDownAtRefresh(t *testing.T) {
	f := newAKFlow(t, 5*time.Second, nil)
	_, rt := f.signIn("ada@example.com")
	if _, err := f.ak.RotateKey(); err != nil {
		t.Fatal(err)
	}
	f.faults.set(http.StatusInternalServerError, 0)
	st, out := f.refresh(rt)
	if st != 503 || out["error"] != "temporarily_unavailable" || !strings.Contains(out["error_description"].(string), "kept") {
		t.Fatalf("refresh while the key set fails: %d %v", st, out)
	}
	f.faults.set(0, 0)
	st, out = f.refresh(rt)
	if st != 200 {
		t.Fatalf("retry once the key set is back: %d %v", st, out)
	}
	if st, id := f.call(out["access_token"].(string)); st != 200 || id.Email != "ada@example.com" {
		t.Fatalf("access token after the retry: %d %+v", st, id)
	}
}

// A refresh WorkOS carried out but answered after our timeout: the client
// is told plainly what may have happened, and when the retry finds the
// WorkOS refresh token spent, the grant ends with that explanation, not as
// if an administrator had ended the session.
func TestHostileAuthKitRefreshAnsweredLate(t *testing.T) {
	f := newAKFlow(t, 500*time.Millisecond, nil)
	at, rt := f.signIn("ada@example.com")
	f.faults.set(0, 3*time.Second)
	st, out := f.refresh(rt)
	desc, _ := out["error_description"].(string)
	if st != 503 || out["error"] != "temporarily_unavailable" || !strings.Contains(desc, "did not arrive") || !strings.Contains(desc, "authorize again") {
		t.Fatalf("refresh answered late: %d %v", st, out)
	}
	f.faults.set(0, 0)
	st, out = f.refresh(rt)
	desc, _ = out["error_description"].(string)
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(desc, "earlier attempt") {
		t.Fatalf("retry after WorkOS spent its refresh token: %d %v", st, out)
	}
	if st, _ := f.call(at); st != 401 {
		t.Errorf("access token of the ended grant: %d", st)
	}
}

// A token WorkOS answers with that is truly invalid (here: already
// expired by our clock, which has moved an hour on since the sign-in) ends
// the grant with a clear error at once, instead of a retry that cannot
// work.
func TestHostileAuthKitRefreshTokenInvalid(t *testing.T) {
	var skew atomic.Int64
	f := newAKFlow(t, 5*time.Second, func(c *authkit.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	at, rt := f.signIn("ada@example.com")
	skew.Store(int64(time.Hour))
	st, out := f.refresh(rt)
	desc, _ := out["error_description"].(string)
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(desc, "failed verification") {
		t.Fatalf("refresh answered with an invalid token: %d %v", st, out)
	}
	if st, _ := f.call(at); st != 401 {
		t.Errorf("access token of the ended grant: %d", st)
	}
}
