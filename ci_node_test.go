package main

import (
	"os"
	"os/exec"
	"path/filepath"
)

// ciModules is the one node_modules every Node-based peer test shares:
// .ci/node.sh installs .ci/package.json's pinned packages there, Node 22
// among them, and a script under .ci/ finds them by Node's own lookup.
var ciModules = filepath.Join(".ci", "node_modules")

// lookNode returns the Node 22 installed in ciModules, or else the node on
// PATH, so that the peer tests run on the Node the lockfile pins even when
// `go test` is run by hand.
func lookNode() (string, error) {
	if p, err := filepath.Abs(filepath.Join(ciModules, "node", "bin", "node")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("node")
}
