package oauth

// This file holds the server secret: the key from which the authorization
// server derives what it signs and seals (CSRF tokens, consent cookies, the
// encryption of upstream tokens at rest). It lives in a file beside the
// store, or comes from the environment when the filesystem is not ours to
// keep (containers, several replicas).

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"remote-mcp-authkit/store"
)

// serverSecretLen is the size of a generated server secret, and the least a
// secret given in the environment must decode to: 256 bits.
const serverSecretLen = 32

// storeSecretFile is the secret's name inside the state directory.
const storeSecretFile = "secret"

// LoadOrCreateSecret returns the server secret kept in dir/secret, creating
// dir (mode 0700) and the file (32 random bytes, mode 0600) when they
// are missing; created reports whether this call made the secret. It
// refuses a file of the wrong size, or one that group or others may read or
// write, rather than trusting a secret that may have leaked.
//
// Creation is atomic: the bytes are written and fsynced under a temporary
// name and then linked into place, so a crash never leaves a short secret,
// and of two processes starting at once, one creates the secret and the
// other reads it.
func LoadOrCreateSecret(dir string) (secret []byte, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("oauth: create secret directory: %w", err)
	}
	path := filepath.Join(dir, storeSecretFile)
	secret, err = storeSecretRead(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return secret, false, err
	}

	secret = make([]byte, serverSecretLen)
	if _, err := io.ReadFull(rand.Reader, secret); err != nil {
		return nil, false, fmt.Errorf("oauth: generate secret: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-*") // mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("oauth: create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(secret)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("oauth: write secret: %w", err)
	}
	// Link, unlike rename, fails if another process got there first.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			secret, err = storeSecretRead(path)
			return secret, false, err
		}
		return nil, false, fmt.Errorf("oauth: create secret: %w", err)
	}
	if err := store.SyncDir(dir); err != nil {
		return nil, false, fmt.Errorf("oauth: create secret: %w", err)
	}
	return secret, true, nil
}

// storeSecretRead reads and checks an existing secret file. A missing file
// gives an error wrapping os.ErrNotExist.
func storeSecretRead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("oauth: open secret: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("oauth: open secret: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("oauth: secret %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("oauth: secret %s has mode %04o, so others may have read it; "+
			"it must be readable by its owner only (chmod 600 %s; if it may have leaked, delete it and a new one is made, which signs everyone out)",
			path, perm, path)
	}
	if fi.Size() != serverSecretLen {
		return nil, fmt.Errorf("oauth: secret %s is %d bytes, want exactly %d; "+
			"it is not a file this server wrote (delete it and a new one is made, which signs everyone out)", path, fi.Size(), serverSecretLen)
	}
	secret := make([]byte, serverSecretLen)
	if _, err := io.ReadFull(f, secret); err != nil {
		return nil, fmt.Errorf("oauth: read secret: %w", err)
	}
	if bytes.Equal(secret, make([]byte, serverSecretLen)) {
		// What a crash can leave on filesystems that do not order data
		// before metadata; never a secret.
		return nil, fmt.Errorf("oauth: secret %s is all zeros; delete it and a new one is made", path)
	}
	return secret, nil
}

// ParseSecret decodes a server secret given as text, for example in an
// environment variable: hex, or base64 (standard or URL alphabet, padded or
// not), decoding to at least serverSecretLen bytes. Surrounding white space is
// ignored. Hex is tried first, since a hex string is also valid base64.
//
// Generate one with: openssl rand -hex 32
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("oauth: secret is empty; want at least 32 bytes as hex or base64 (openssl rand -hex 32)")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		b, err = storeSecretBase64(s)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: secret is neither hex nor base64; want at least %d bytes encoded as either (openssl rand -hex 32)", serverSecretLen)
	}
	if len(b) < serverSecretLen {
		return nil, fmt.Errorf("oauth: secret decodes to %d bytes, want at least %d (openssl rand -hex 32)", len(b), serverSecretLen)
	}
	return b, nil
}

func storeSecretBase64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}
