package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestBuildsOnOtherSystems cross-compiles the module, and vets this package
// and package oauth with their tests, for the systems people run servers
// and laptops on: the file store once called flock unconditionally and
// broke the Windows build (issue 11 item 16). On Windows the package builds and OpenFileStore says
// why it cannot run (TestFileStoreUnsupportedHere covers that there).
func TestBuildsOnOtherSystems(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the module")
	}
	// go test puts its own toolchain's bin first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []struct{ goos, goarch string }{{"windows", "amd64"}, {"darwin", "arm64"}} {
		t.Run(target.goos, func(t *testing.T) {
			env := append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
			for _, args := range [][]string{{"build", "-o", os.DevNull, "./..."}, {"vet", "./store", "./oauth"}} {
				cmd := exec.Command(goBin, args...)
				cmd.Dir = ".."
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("GOOS=%s GOARCH=%s go %v: %v\n%s", target.goos, target.goarch, args, err, out)
				}
			}
		})
	}
}

// TestFileStoreUnsupportedHere: where the file store cannot keep its
// promises, opening one fails with ErrFileUnsupported and creates nothing;
// where it can, it opens.
func TestFileStoreUnsupportedHere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s, err := OpenFileStore(path)
	if fileLockSupported {
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		return
	}
	if !errors.Is(err, ErrFileUnsupported) {
		t.Fatalf("OpenFileStore on %s: %v, want ErrFileUnsupported", runtime.GOOS, err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused open left %s.lock: %v", path, err)
	}
}
