package oauth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	secret, created, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(secret) != serverSecretLen {
		t.Fatalf("first call: created=%v, %d bytes; want a new %d-byte secret", created, len(secret), serverSecretLen)
	}
	if bytes.Equal(secret, make([]byte, serverSecretLen)) {
		t.Fatal("the new secret is all zeros")
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "secret"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	again, created, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created || !bytes.Equal(again, secret) {
		t.Fatalf("second call: created=%v, same=%v; want the stored secret back", created, bytes.Equal(again, secret))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want only the secret (no temp files)", len(entries))
	}
	other, _, err := LoadOrCreateSecret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, secret) {
		t.Fatal("two directories got the same secret")
	}
}

func TestLoadOrCreateSecretRace(t *testing.T) {
	dir := t.TempDir()
	const n = 10
	var wg sync.WaitGroup
	secrets := make([][]byte, n)
	createdBy := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { secrets[i], createdBy[i], errs[i] = LoadOrCreateSecret(dir) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(secrets[i], secrets[0]) {
			t.Fatal("concurrent callers got different secrets")
		}
		if createdBy[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d callers say they created the secret, want 1", creators)
	}
}

func TestLoadOrCreateSecretRefuses(t *testing.T) {
	good := bytes.Repeat([]byte{0xa5}, serverSecretLen)
	cases := []struct {
		name  string
		setup func(path string) error
		want  string
	}{
		{"short", func(p string) error { return os.WriteFile(p, good[:5], 0o600) }, "is 5 bytes"},
		{"long", func(p string) error { return os.WriteFile(p, append(good, '\n'), 0o600) }, "is 33 bytes"},
		{"group readable", func(p string) error {
			if err := os.WriteFile(p, good, 0o600); err != nil {
				return err
			}
			return os.Chmod(p, 0o640)
		}, "mode 0640"},
		{"world readable", func(p string) error {
			if err := os.WriteFile(p, good, 0o600); err != nil {
				return err
			}
			return os.Chmod(p, 0o604)
		}, "chmod 600"},
		{"all zeros", func(p string) error { return os.WriteFile(p, make([]byte, serverSecretLen), 0o600) }, "all zeros"},
		{"a directory", func(p string) error { return os.Mkdir(p, 0o700) }, "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secret")
			if err := c.setup(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			secret, created, err := LoadOrCreateSecret(dir)
			if err == nil {
				t.Fatalf("got a %d-byte secret (created=%v), want an error", len(secret), created)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatal("a refused secret file was changed")
			}
		})
	}
	t.Run("sanity: the good file is accepted", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "secret"), good, 0o600); err != nil {
			t.Fatal(err)
		}
		secret, created, err := LoadOrCreateSecret(dir)
		if err != nil || created || !bytes.Equal(secret, good) {
			t.Fatalf("got %x, %v, %v; want the file's bytes", secret, created, err)
		}
	})
}

func TestParseSecret(t *testing.T) {
	b32 := make([]byte, 32)
	for i := range b32 {
		b32[i] = byte(i*37 + 250) // includes bytes that need '+', '/', '-', '_'
	}
	b48 := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 16)
	ok := []struct {
		name, in string
		want     []byte
	}{
		{"hex", hex.EncodeToString(b32), b32},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(b32)), b32},
		{"hex with a trailing newline", hex.EncodeToString(b32) + "\n", b32},
		{"base64", base64.StdEncoding.EncodeToString(b32), b32},
		{"base64 without padding", base64.RawStdEncoding.EncodeToString(b32), b32},
		{"base64url", base64.URLEncoding.EncodeToString(b48), b48},
		{"base64url without padding", base64.RawURLEncoding.EncodeToString(b32), b32},
		{"longer than 32 bytes", base64.StdEncoding.EncodeToString(b48), b48},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSecret(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("ParseSecret(%q) = %x, want %x", c.in, got, c.want)
			}
		})
	}
	bad := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"blank", "  \n", "empty"},
		{"short hex", hex.EncodeToString(b32[:31]), "31 bytes"},
		{"short base64", base64.StdEncoding.EncodeToString(b32[:16]), "16 bytes"},
		{"a password", "correct horse battery staple!!", "neither hex nor base64"},
		{"hex with a stray character", hex.EncodeToString(b32)[:63] + "!", "neither hex nor base64"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSecret(c.in)
			if err == nil {
				t.Fatalf("ParseSecret(%q) = %x, want an error", c.in, got)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}
