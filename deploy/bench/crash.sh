#!/usr/bin/env bash
# Crash benchmark: 200 cycles of SIGKILL at random moments during `collect now`, then checks
# that `verify` passes (which includes PRAGMA integrity_check) and that every run whose
# collection was acknowledged (the command printed its report) is in the log.
# Usage: deploy/bench/crash.sh [cycles]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles=${1:-200}
cargo build --release -q
bin=$PWD/target/release/beweis
work=$(mktemp -d); trap 'rm -rf "$work" 2>/dev/null || true' EXIT
mkdir -p "$work/docs"
for i in $(seq -w 1 3000); do printf "document $i line %s\n" $(seq 1 300) > "$work/docs/$i.md"; done
cat > "$work/beweis.toml" <<TOML
[profile]
catalog = "nist-csf-1.1"
scope = ["ID.AM-1"]

[[instance]]
name = "docs"
collector = "file"
schedule = "@daily"
params = { paths = ["$work/docs/*.md"] }

[[instance]]
name = "id"
collector = "command"
schedule = "@daily"
params = { argv = ["id", "-u"] }
TOML
b() { "$bin" --config "$work/beweis.toml" --state-dir "$work/state" "$@"; }
acked=$work/acked; : > "$acked"; killed=0
# Kill moments are drawn uniformly over one collection's duration, measured here.
t0=$(date +%s%N); b collect now > /dev/null; t1=$(date +%s%N)
span_us=$(( (t1 - t0) / 1000 ))
echo "one collection takes $(( span_us / 1000 )) ms; killing at random moments within it"
for i in $(seq 1 "$cycles"); do
  b collect now --json > "$work/out.json" 2>/dev/null &
  pid=$!
  us=$(( (RANDOM * 32768 + RANDOM) % span_us ))
  sleep "$(printf '%d.%06d' $(( us / 1000000 )) $(( us % 1000000 )))"
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1)); fi
  if wait "$pid"; then
    python3 -c 'import json,sys; [print(r["run_id"]) for r in json.load(open(sys.argv[1]))["runs"]]' \
      "$work/out.json" >> "$acked"
  fi
done
b verify
b evidence list --json --limit 100000000 |
  python3 -c 'import json,sys; [print(o["run_id"]) for o in json.load(sys.stdin)]' | sort -u > "$work/stored"
missing=$(sort -u "$acked" | comm -23 - "$work/stored" | wc -l)
echo "cycles=$cycles killed=$killed acknowledged_runs=$(sort -u "$acked" | wc -l) missing=$missing"
[ "$missing" -eq 0 ]
