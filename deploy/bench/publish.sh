#!/usr/bin/env bash
# Publish benchmark (not a test): the time of one feed publication (`beweis export --out`) on
# an evidence log of about 100,000 leaves, for two builds side by side on copies of the same
# log, e.g. the commit before "proofs without reading every leaf" and the one after it.
# Usage: deploy/bench/publish.sh BEFORE_BIN AFTER_BIN [files_per_run] [runs] [publications]
#        (defaults 1000 x 100 = 100,100 leaves, 5 timed publications per build)
# The log is written by BEFORE_BIN, so that an older build can still open it (a newer build
# migrates its own copy on the warm-up publication, which is not timed). Between two timed
# publications one small run is recorded, as the daemon does (a run, then a publication).
# Everything happens on this host, in a temp directory.
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2")
files=${3:-1000}; runs=${4:-100}; publications=${5:-5}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/docs"
for i in $(seq 1 "$files"); do echo "document $i" > "$work/docs/$i.md"; done
echo "one small file" > "$work/one.md"
cat > "$work/beweis.toml" <<TOML
[profile]
catalog = "nist-csf-1.1"
scope = ["ID.AM-1", "ID.AM-2"]

[[instance]]
name = "docs"
collector = "file"
schedule = "@yearly"
params = { paths = ["$work/docs/*.md"] }

[[instance]]
name = "one"
collector = "file"
schedule = "@yearly"
params = { paths = ["$work/one.md"] }

[[check]]
name = "docs_exist"
instance = "docs"
judgement = "exists"
max_age_hours = 48
controls = ["ID.AM-1"]

[[check]]
name = "one_exists"
instance = "one"
judgement = "exists"
max_age_hours = 48
controls = ["ID.AM-2"]
TOML
export BEWEIS_LOG=warn
for _ in $(seq 1 "$runs"); do
    "$before" --config "$work/beweis.toml" --state-dir "$work/state" collect now \
        --instance docs > /dev/null
done
for build in before after; do cp -a "$work/state" "$work/state-$build"; done
python3 - "$work" "$before" "$after" "$publications" <<'PY'
import sqlite3, statistics, subprocess, sys, time
work, before, after, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def run(binary, build, *args):
    cmd = [binary, "--config", f"{work}/beweis.toml", "--state-dir", f"{work}/state-{build}", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=600)

def publish(binary, build):
    t0 = time.monotonic()
    run(binary, build, "export", "--out", f"{work}/www-{build}")
    return time.monotonic() - t0

results = {}
for build, binary in (("before", before), ("after", after)):
    publish(binary, build)  # warm-up: first publication (and a newer build's migration)
    times = []
    for _ in range(count):
        run(binary, build, "collect", "now", "--instance", "one")
        times.append(publish(binary, build))
    results[build] = times
    db = sqlite3.connect(f"file:{work}/state-{build}/evidence.db?mode=ro", uri=True)
    leaves = db.execute("SELECT COUNT(*) FROM log_leaves").fetchone()[0]
    db.close()
    print(f"{build}: log of {leaves} leaves, publish (process included) "
          f"median {statistics.median(times)*1000:.0f} ms, "
          f"min {min(times)*1000:.0f} ms, max {max(times)*1000:.0f} ms over {count}")
ratio = statistics.median(results["before"]) / statistics.median(results["after"])
print(f"ratio before/after (median): {ratio:.1f}x")
PY
