package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildServer compiles the command into a temporary directory: what a
// person runs, exit status included, which run alone cannot show.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "remote-mcp-authkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHelpExitsZero: -h (and -help, --help) prints the usage and is a
// success; an unknown flag is still an error.
func TestHelpExitsZero(t *testing.T) {
	bin := buildServer(t)
	for _, arg := range []string{"-h", "-help", "--help"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v, want exit status 0\n%s", arg, err, out)
		}
		if !strings.Contains(string(out), "Usage of remote-mcp-authkit:") || !strings.Contains(string(out), "-base-url") {
			t.Errorf("%s printed no usage:\n%s", arg, out)
		}
		if strings.Contains(string(out), "error:") {
			t.Errorf("%s printed an error:\n%s", arg, out)
		}
	}
	out, err := exec.Command(bin, "-no-such-flag").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "flag provided but not defined") {
		t.Errorf("-no-such-flag: %v, want exit status 1 naming the flag\n%s", err, out)
	}
}
