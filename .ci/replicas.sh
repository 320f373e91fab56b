#!/usr/bin/env bash
# The replicated server for real (issue 13): installs PostgreSQL and haproxy
# from Debian's packages when missing, starts a private PostgreSQL cluster
# as the unprivileged postgres user on a loopback port in a temporary
# directory, runs the replicas module's tests against it (the store
# behaviour suite, migrations, LISTEN/NOTIFY), then the cluster tests: two
# replica processes behind haproxy (round robin, health check on /readyz),
# sign-in, legacy sessions, revocation across replicas, PostgreSQL stopped
# and started, kill -9 under load.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "== apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres

# A free loopback port: ask the kernel for one.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((40000 + RANDOM % 20000)))
dir=$(mktemp -d /tmp/replicas-pg.XXXXXX)
chown postgres: "$dir"
chmod 700 "$dir"
aspg() { su postgres -s /bin/sh -c "$1"; }
stop_pg() { aspg "$pgbin/pg_ctl -D $dir/data -m fast -w stop" >/dev/null 2>&1 || true; }
cleanup() { stop_pg; rm -rf "$dir"; }
trap cleanup EXIT

echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
aspg "$pgbin/initdb -D $dir/data -U postgres -A trust --no-sync" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
# Settings live in the data directory so that a restart (the cluster test
# stops and starts it) keeps them. Trust authentication on loopback only:
# the cluster is private, lives for this run, and listens nowhere else.
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
max_connections = 200
CONF
start_cmd="$pgbin/pg_ctl -D $dir/data -l $dir/log -w start"
aspg "$start_cmd" >/dev/null || { cat "$dir/log"; exit 1; }

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
export PG_STOP="su postgres -s /bin/sh -c '$pgbin/pg_ctl -D $dir/data -m fast -w stop'"
export PG_START="su postgres -s /bin/sh -c '$start_cmd'"

echo "== replicas module: vet and tests on PostgreSQL"
(cd replicas && go vet ./... && go test -race -count=1 ./...)

echo "== cluster: two replicas behind haproxy"
if (cd bench && go test -count=1 -v -run TestCluster ./cluster/) >"$dir/cluster.log" 2>&1; then
  grep -E '^( *--- |    cluster_test|ok)' "$dir/cluster.log"
else
  cat "$dir/cluster.log"
  exit 1
fi
