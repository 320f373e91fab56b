#!/usr/bin/env bash
# Container images for both binaries (deploy/Containerfile: the single
# process; deploy/Containerfile.replica: the replica on PostgreSQL), built
# with podman FROM scratch around static binaries, and what can be checked
# without running a container (this machine cannot run them): each binary
# is static, each image holds only its binary, the CA bundle (and the data
# directory), runs as 65532:65532 with the expected entrypoint, and the
# compose file parses and names the images built here. The processes the
# images would run are what .ci/replicas.sh starts and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  echo "== apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/single/data" "$ctx/replica"
echo "== static binaries"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/single/remote-mcp-authkit" .
(cd replicas && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/replica/replica" ./cmd/replica)
for b in "$ctx/single/remote-mcp-authkit" "$ctx/replica/replica"; do
  if readelf -l "$b" | grep -q INTERP; then echo "$b is dynamically linked"; exit 1; fi
done
for d in single replica; do cp /etc/ssl/certs/ca-certificates.crt "$ctx/$d/"; done

echo "== podman build"
podman build -q -f deploy/Containerfile -t localhost/remote-mcp-authkit:latest "$ctx/single" >/dev/null
podman build -q -f deploy/Containerfile.replica -t localhost/remote-mcp-authkit-replica:latest "$ctx/replica" >/dev/null

check() { # image user entrypoint files...
  local img=$1 user=$2 entry=$3; shift 3
  got=$(podman image inspect --format '{{.Config.User}} {{json .Config.Entrypoint}}' "$img")
  if [ "$got" != "$user $entry" ]; then echo "$img: user and entrypoint $got, want $user $entry"; exit 1; fi
  rm -f "$ctx/img.tar"
  podman image save -q --format docker-archive -o "$ctx/img.tar" "$img" >/dev/null 2>&1
  python3 - "$ctx/img.tar" "$@" <<'PY'
import io, sys, tarfile
want = set(sys.argv[2:])
got = set()
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        if m.name.endswith(".tar") or m.name.endswith("/layer.tar"):
            with tarfile.open(fileobj=t.extractfile(m)) as layer:
                got |= {x.name.rstrip("/") for x in layer.getmembers() if not x.isdir() or x.name.rstrip("/") in want}
if got != want:
    sys.exit(f"{sys.argv[1]}: files {sorted(got)}, want exactly {sorted(want)} (no shell, nothing else)")
PY
  echo "$img: $user, entrypoint $entry, files: $*"
}
check localhost/remote-mcp-authkit:latest 65532:65532 '["/remote-mcp-authkit"]' \
  etc/ssl/certs/ca-certificates.crt remote-mcp-authkit data
check localhost/remote-mcp-authkit-replica:latest 65532:65532 '["/replica"]' \
  etc/ssl/certs/ca-certificates.crt replica

echo "== compose file"
python3 - <<'PY'
import yaml
c = yaml.safe_load(open("deploy/compose.yaml"))
s = c["services"]
assert set(s) == {"postgres", "replica1", "replica2", "balancer"}, sorted(s)
for r in ("replica1", "replica2"):
    assert s[r]["image"] == "localhost/remote-mcp-authkit-replica:latest", s[r]["image"]
    env = s[r]["environment"]
    assert {"DATABASE_URL", "SERVER_SECRET", "BASE_URL"} <= set(env), env
assert s["replica1"]["environment"] == s["replica2"]["environment"], "replicas must share their settings"
assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in s["balancer"]["volumes"]
print("deploy/compose.yaml: postgres, two replicas with the same settings, haproxy with deploy/haproxy.cfg")
PY
if command -v haproxy >/dev/null 2>&1; then
  # The balancer's configuration, with the replicas' names resolvable.
  sed 's/replica[12]:8788/127.0.0.1:8788/' deploy/haproxy.cfg >"$ctx/haproxy.cfg"
  haproxy -c -q -f "$ctx/haproxy.cfg"
  echo "deploy/haproxy.cfg: valid"
fi
