#!/usr/bin/env bash
# Core benchmark (not a test): time to READY, idle daemon RSS, append throughput, and
# `verify` time over 100,000 observations. Everything on this host, in a temp directory.
# Usage: deploy/bench/core.sh [files_per_run] [runs]   (defaults 1000 x 100 = 100,000)
set -euo pipefail
cd "$(dirname "$0")/../.."
files=${1:-1000}; runs=${2:-100}
cargo build --release -q
bin=$PWD/target/release/beweis
work=$(mktemp -d); trap 'kill %1 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/docs"
for i in $(seq 1 "$files"); do echo "document $i" > "$work/docs/$i.md"; done
cat > "$work/beweis.toml" <<TOML
[profile]
catalog = "nist-csf-1.1"
scope = ["ID.AM-1"]

[[instance]]
name = "docs"
collector = "file"
schedule = "@yearly"
params = { paths = ["$work/docs/*.md"] }
TOML
b() { "$bin" --config "$work/beweis.toml" --state-dir "$work/state" "$@"; }

# Time to READY and idle RSS: a Python listener plays systemd's notify socket.
python3 - "$bin" "$work" <<'PY'
import os, socket, subprocess, sys, time
bin, work = sys.argv[1], sys.argv[2]
path = os.path.join(work, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(path); s.settimeout(30)
env = dict(os.environ, NOTIFY_SOCKET=path, BEWEIS_LOG="warn")
cfg = os.path.join(work, "idle.toml")
open(cfg, "w").write('[profile]\ncatalog = "nist-csf-1.1"\nscope = ["ID.AM-1"]\n')
t0 = time.monotonic()
p = subprocess.Popen([bin, "--config", cfg, "--state-dir", os.path.join(work, "idle"), "daemon"], env=env)
while b"READY=1" not in s.recv(4096): pass
ready = time.monotonic() - t0
time.sleep(5)
rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
p.terminate(); p.wait(timeout=30)
print(f"time_to_ready_ms={ready*1000:.0f} idle_rss_kib={rss}")
PY

start=$(date +%s.%N)
for _ in $(seq 1 "$runs"); do b collect now > /dev/null; done
end=$(date +%s.%N)
obs=$((files * runs))
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'append: {n} observations in {s:.1f} s = {n/s:.0f} obs/s (incl. process start and hashing)')" "$start" "$end" "$obs"
/usr/bin/time -f "verify: %e s, max RSS %M KiB" "$bin" --config "$work/beweis.toml" --state-dir "$work/state" verify
ls -l "$work/state/evidence.db" | awk '{print "database bytes:", $5}'
