#!/usr/bin/env bash
# Side-by-side NFS benchmark: our Server and nfs-ganesha (VFS), both on
# loopback, driven by libnfs's nfs-cp (64 MiB in and out) and nfs-ls
# (mount latency). Prints MB/s and ratios (ours / ganesha; >= 1 is the goal).
#
# Needs Debian packages libnfs-utils, nfs-ganesha, nfs-ganesha-vfs (which
# brings rpcbind). ganesha 4.3 cannot run without registering with rpcbind,
# so everything runs inside a private network namespace (unshare -n, needs
# root or CAP_SYS_ADMIN): ganesha, rpcbind and the clients see only that
# namespace's 127.0.0.1, and nothing is reachable from outside. (No
# Bind_Addr: ganesha 4.3 resolves it with getaddrinfo, which fails in a
# namespace that has only a loopback; the namespace is the boundary.) Without
# ganesha (or unshare) only our Server is measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${BENCH_COUNT:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/nfs.test" ./nfs

if ! command -v ganesha.nfsd >/dev/null || ! command -v rpcbind >/dev/null || ! unshare -n true 2>/dev/null; then
  echo "bench/ganesha.sh: ganesha, rpcbind or unshare -n unavailable: measuring our Server only" >&2
  exec "$work/nfs.test" -test.run='^$' -test.bench=BenchmarkLibnfs -test.benchtime=3x -test.count="$count"
fi

mkdir -p "$work/export" "$work/recov" "$work/rpcbind"
cat >"$work/ganesha.conf" <<CONF
NFS_CORE_PARAM {
	NFS_Port = 20490;
	MNT_Port = 20491;
	Protocols = 3;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
}
NFSV4 { Graceless = true; RecoveryRoot = $work/recov; }
EXPORT {
	Export_Id = 1;
	Path = $work/export;
	Pseudo = /bench;
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 3;
	Transports = TCP;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
CONF

export WORK=$work COUNT=$count
unshare -n bash -euo pipefail -c '
  ip link set lo up
  mkdir -p /run/rpcbind
  rpcbind -f -w & rpc=$!
  trap "kill \$rpc \$(cat $WORK/ganesha.pid 2>/dev/null) 2>/dev/null || true" EXIT
  sleep 0.3
  ganesha.nfsd -f $WORK/ganesha.conf -L $WORK/ganesha.log -p $WORK/ganesha.pid
  for i in $(seq 50); do
    nfs-ls "nfs://127.0.0.1$WORK/export?version=3&nfsport=20490&mountport=20491" >/dev/null 2>&1 && break
    sleep 0.2
  done
  NFS_BENCH_GANESHA="127.0.0.1:20490:20491:$WORK/export" \
    $WORK/nfs.test -test.run="^\$" -test.bench=BenchmarkLibnfs -test.benchtime=3x -test.count=$COUNT
'
