package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeSession returns the shell blocks of README.md's "A session by
// hand", joined, and the output their comment lines promise: a line "# X"
// after a command is a line X it prints, "#  Y" continues the line above,
// "#" alone is an empty line, and "..." stands for anything.
func readmeSession(t *testing.T) (script string, want []string) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## A session by hand\n")
	if !ok {
		t.Fatal(`README.md has no "## A session by hand"`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	blocks := regexp.MustCompile("(?s)\n```sh\n(.*?)\n```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 2 {
		t.Fatalf("README.md's session has %d sh blocks, want the legacy and the stateless one", len(blocks))
	}
	var sb strings.Builder
	for _, blk := range blocks {
		sb.WriteString(blk[1] + "\n")
		for line := range strings.SplitSeq(blk[1], "\n") {
			switch {
			case strings.HasPrefix(line, "#  ") && len(want) > 0:
				want[len(want)-1] += strings.TrimPrefix(line, "#  ")
			case line == "#":
				want = append(want, "")
			case strings.HasPrefix(line, "# "):
				want = append(want, strings.TrimPrefix(line, "# "))
			}
		}
	}
	return sb.String(), want
}

// copyCheckout copies the files git knows (tracked, and new ones not
// ignored) into a new directory: the tree a fresh clone has, with no
// ./data, no built binary and no node_modules.
func copyCheckout(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): cannot make a fresh copy", err)
	}
	dst := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(f)
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestReadmeSessionByHand pastes README.md's "A session by hand" into bash
// in a fresh copy of the repository, as a newcomer would: it builds and
// starts the server, waits until it answers, signs in, captures the
// session id, speaks both eras with curl and stops the server. Only the
// port differs (a free one instead of 8788, which may be taken). Every
// output line the README shows must appear, in order.
func TestReadmeSessionByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and the load tool")
	}
	for _, tool := range []string{"bash", "curl", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	script, want := readmeSession(t)
	if len(want) < 8 {
		t.Fatalf("README.md's session shows %d output lines; the parser found too few:\n%q", len(want), want)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := fmt.Sprintf("localhost:%d", port)
	script = strings.ReplaceAll(script, "localhost:8788", addr)
	dir := copyCheckout(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// -e and pipefail: a command that fails fails the test, even where a
	// person at the terminal could carry on.
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ADDR="+addr)
	// Its own process group: whatever the block started ends with the test,
	// even if the block fails before it stops the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	got := strings.ReplaceAll(stdout.String(), "\r", "")
	if err != nil {
		t.Fatalf("the README's session failed: %v\nstdout:\n%s\nstderr:\n%s", err, got, stderr.String())
	}
	lines := strings.Split(got, "\n")
	at := 0
	for _, w := range want {
		parts := strings.Split(w, "...")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		for at < len(lines) && !re.MatchString(lines[at]) {
			at++
		}
		if at == len(lines) {
			t.Fatalf("the README shows %q, which the session did not print (in order)\nstdout:\n%s\nstderr:\n%s", w, got, stderr.String())
		}
		at++
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("the server did not shut down gracefully:\n%s", stderr.String())
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("something still listens on %s after the session stopped the server", addr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "oauth.log")); err != nil {
		t.Errorf("the session kept no state in ./data: %v", err)
	}
}
