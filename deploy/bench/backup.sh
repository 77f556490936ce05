#!/usr/bin/env bash
# Backup collector benchmark (not a test): facts from a restic repository with many snapshots.
#
# 1. Creates a restic repository under /tmp with N snapshots (default 1000), one per day back
#    from today (`restic backup --time`), one after another (concurrent restic 0.14 backups
#    stall on each other's lock files); one tree that grows by 4 KiB each time.
#    With BENCH_DIR set, the repository there is reused when it exists.
# 2. Times `restic snapshots --json` alone, then the collector (collectors/examples/
#    backup_bench.rs) with and without the size stats, printing wall time and peak RSS:
#    `max_rss_kb` from GNU time covers the collector and the restic processes it waited for;
#    `collector_peak_rss_kb` is the collector process alone.
#
# Usage: deploy/bench/backup.sh [snapshots]      Needs: restic, GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
for tool in restic /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "missing: $tool (apt-get install restic time)" >&2; exit 1; }
done
work=${BENCH_DIR:-$(mktemp -d -t backup-bench.XXXXXX)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
export RESTIC_REPOSITORY=$work/repo RESTIC_PASSWORD_FILE=$work/pw RESTIC_CACHE_DIR=$work/cache
[ -f "$work/pw" ] || echo "bench-only-password" > "$work/pw"

if [ ! -f "$work/repo/config" ]; then
  restic init -q
  one() {  # one snapshot of the same tree, $1 days ago
    local day=$1 dir=$work/src
    mkdir -p "$dir" && echo "day $day" > "$dir/stamp" && head -c 4096 /dev/urandom > "$dir/blob-$day"
    restic backup -q --host bench --time "$(date -u -d "-$day days" '+%Y-%m-%d 02:00:00')" "$dir" \
      > /dev/null
  }
  export -f one; export work
  started=$(date +%s)
  seq $((n - 1)) -1 0 | xargs -P 1 -I{} bash -c 'one {}'
  echo "created $n snapshots in $(( $(date +%s) - started )) s" >&2
fi

cargo build --release -q -p collectors --example backup_bench
bench=$PWD/target/release/examples/backup_bench

measure() {  # label, command...
  local label=$1; shift
  /usr/bin/time -f "$label: wall %e s, max_rss_kb %M" "$@" > "$work/out.json" 2> "$work/time.txt" || {
    cat "$work/time.txt" >&2; exit 1; }
  tail -1 "$work/time.txt"
}
measure "restic snapshots --json alone" restic --no-cache snapshots --json
echo "  snapshots listed: $(grep -o '"short_id"' "$work/out.json" | wc -l)"
measure "collector, no stats (version + snapshots)" "$bench" "$RESTIC_REPOSITORY" "$RESTIC_PASSWORD_FILE" --no-stats
echo "  $(cat "$work/out.json")"
measure "collector, with stats (+ 2x restic stats)" "$bench" "$RESTIC_REPOSITORY" "$RESTIC_PASSWORD_FILE"
echo "  $(cat "$work/out.json")"
