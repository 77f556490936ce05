#!/usr/bin/env bash
# Advisories benchmark and cargo-audit side by side (not a test).
#
# 1. Builds a synthetic OSV database of 100,000+ records from the real records in
#    $ADV_DATA/osv (ids and package names suffixed per copy, ranges unchanged), as a directory
#    and as a zip, and 5,000 packages in many lockfiles (Cargo.lock and requirements.txt, names
#    and versions drawn from the database, boundary versions included).
# 2. Runs the advisories collector core (collectors/examples/advisories_bench.rs): load time,
#    match time, peak RSS.
# 3. Runs cargo-audit (--no-fetch, against a local git copy of $ADV_DATA/rustsec-db) and beweis
#    (against $ADV_DATA/osv/rustsec, the OSV export of the same database) on the same
#    Cargo.lock files, and prints every difference in matched advisory IDs.
#    Lockfiles where one side also names a twin record of the same vulnerability (shared
#    aliases; beweis groups them into one finding) are counted apart from real differences.
#    pip-audit and osv-scanner are not run: pip-audit has no offline vulnerability source
#    (its services, PyPI and OSV, are web APIs), and osv-scanner is neither a Debian package
#    nor on crates.io, PyPI or npm, and these machines have no Go toolchain to build it.
#
# Usage: deploy/bench/advisories.sh [records] [packages]   (defaults 100000 5000)
# BENCH_BIN=path uses a prebuilt driver; SKIP_AUDIT=1 skips the cargo-audit part.
# Needs: python3, git, cargo-audit on PATH (`cargo install cargo-audit --locked`).
# ADV_DATA defaults to ../shared/data/advisories (relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."
records=${1:-100000}; packages=${2:-5000}
data=${ADV_DATA:-$PWD/../shared/data/advisories}
tools="python3 git"; [ -n "${SKIP_AUDIT:-}" ] || tools="$tools cargo-audit"
for tool in $tools; do
  command -v "$tool" > /dev/null || { echo "missing: $tool" >&2; exit 1; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p collectors --example advisories_bench
fi
bench=${BENCH_BIN:-$PWD/target/release/examples/advisories_bench}

python3 - "$data" "$work" "$records" "$packages" <<'PY'
import glob, json, os, random, sys, zipfile
data, work, n_records, n_packages = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(20261204)
real = []
for sub in ("rustsec", "pypa", "test-fixtures", "ghsa"):
    for path in sorted(glob.glob(f"{data}/osv/{sub}/*.json")):
        real.append(json.load(open(path)))
os.makedirs(f"{work}/db", exist_ok=True)
names = {}  # (ecosystem, name) -> list of event versions
real_names = set()
zf = zipfile.ZipFile(f"{work}/db.zip", "w", zipfile.ZIP_DEFLATED)
for i in range(n_records):
    base = real[i % len(real)]
    copy = i // len(real)
    rec = json.loads(json.dumps(base))
    sfx = "" if copy == 0 else f"-s{copy}"
    rec["id"] = base["id"] + sfx
    rec["aliases"] = [a + sfx for a in base.get("aliases") or []]
    for aff in rec.get("affected") or []:
        pkg = aff.get("package") or {}
        pkg["name"] = pkg.get("name", "") + sfx
        if copy == 0:
            real_names.add(pkg["name"])
        evs = names.setdefault((pkg.get("ecosystem"), pkg["name"]), [])
        for r in aff.get("ranges") or []:
            if r.get("type") in ("SEMVER", "ECOSYSTEM"):
                evs += [v for e in r.get("events", []) for v in e.values() if v != "0"]
    text = json.dumps(rec)
    d = f"{work}/db/{i // 1000:03d}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/{rec['id']}.json", "w").write(text)
    zf.writestr(f"{rec['id']}.json", text)
zf.close()

def version(evs, eco):
    if evs and rnd.random() < 0.7:
        return rnd.choice(evs)
    return f"{rnd.randint(0, 3)}.{rnd.randint(0, 20)}.{rnd.randint(0, 9)}"

crates = [(n, e) for (eco, n), e in names.items() if eco == "crates.io"]
pypi = [(n, e) for (eco, n), e in names.items() if eco == "PyPI"]
os.makedirs(f"{work}/locks", exist_ok=True)
made = 0; idx = 0
while made < n_packages:
    idx += 1
    if idx % 2:
        pick = rnd.sample(crates, 100)
        body = "version = 3\n\n" + "".join(
            f'[[package]]\nname = "{n}"\nversion = "{version(e, "c")}"\n'
            f'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n' for n, e in pick)
        d = f"{work}/locks/c{idx}"; os.makedirs(d); open(f"{d}/Cargo.lock", "w").write(body)
    else:
        pick = rnd.sample(pypi, min(100, len(pypi)))
        body = "".join(f"{n}=={version(e, 'p')}\n" for n, e in pick)
        d = f"{work}/locks/p{idx}"; os.makedirs(d); open(f"{d}/requirements.txt", "w").write(body)
    made += len(pick)
# Real-name Cargo.lock files for the side-by-side run (copy 0 names exist in RustSec).
real_crates = [(n, e) for n, e in crates if n in real_names]
os.makedirs(f"{work}/audit", exist_ok=True)
for k in range(10):
    pick = rnd.sample(real_crates, min(100, len(real_crates)))
    body = "version = 3\n\n" + "".join(
        f'[[package]]\nname = "{n}"\nversion = "{version(e, "c")}"\n'
        f'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n' for n, e in pick)
    d = f"{work}/audit/r{k}"; os.makedirs(d); open(f"{d}/Cargo.lock", "w").write(body)
print(f"generated {n_records} records, {made} packages in {idx} lockfiles")
PY

echo "== beweis: ${records} records (directory), all lockfiles"
mapfile -t locks < <(find "$work/locks" -type f | sort)
"$bench" "osv-dir=$work/db" -- "${locks[@]}"
echo "== beweis: same records from the zip export"
"$bench" "osv-zip=$work/db.zip" -- "${locks[@]}"

[ -z "${SKIP_AUDIT:-}" ] || exit 0
echo "== side by side with cargo-audit on the same Cargo.lock files"
cp -r "$data/rustsec-db" "$work/rustsec" && chmod -R u+w "$work/rustsec"
git -C "$work/rustsec" init -q && git -C "$work/rustsec" add -A
git -C "$work/rustsec" -c user.name=bench -c user.email=bench@localhost commit -qm snapshot
for f in collectors/tests/fixtures/advisories/lockfiles/cargo/*/*.lock; do
  d="$work/audit/fixture-$(basename "$(dirname "$f")")"; mkdir -p "$d"; cp "$f" "$d/Cargo.lock"
done
mapfile -t cargo_locks < <(find "$work/audit" -name Cargo.lock | sort)
"$bench" --ids "osv-dir=$data/osv/rustsec" -- "${cargo_locks[@]}" > "$work/beweis.out"
start=$(date +%s%N)
for lock in "${cargo_locks[@]}"; do
  cargo-audit audit --db "$work/rustsec" --no-fetch --stale --json -f "$lock" \
    > "$work/audit-$(echo "$lock" | md5sum | cut -c1-8).json" \
    2> "$work/audit-$(echo "$lock" | md5sum | cut -c1-8).err" || true
done
end=$(date +%s%N)
python3 - "$work" "$(( (end - start) / 1000000 ))" "$data" "${cargo_locks[@]}" <<'PY'
import glob, hashlib, json, sys
work, audit_ms, data, locks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
aliases = {}
for path in glob.glob(f"{data}/osv/rustsec/*.json"):
    rec = json.load(open(path))
    aliases[rec["id"]] = set(rec.get("aliases") or [])

def explain(rid, other_side):
    """Another ID on the other side that shares an alias: the same vulnerability, two IDs."""
    twins = [o for o in other_side if aliases.get(o, set()) & aliases.get(rid, set())]
    return f"{rid} (same vulnerability as {', '.join(twins)} via shared alias)" if twins else rid
ours, summary = {}, None
for line in open(f"{work}/beweis.out"):
    if line.startswith("ids\t"):
        _, path, ids = line.rstrip("\n").split("\t")
        ours[path] = set(filter(None, ids.split(",")))
    else:
        summary = json.loads(line)
agree = twins = differ = 0
for lock in locks:
    h = hashlib.md5((lock + "\n").encode()).hexdigest()[:8]
    try:
        rep = json.load(open(f"{work}/audit-{h}.json"))
    except Exception as e:
        err = open(f"{work}/audit-{h}.err").read().strip().splitlines()
        print(f"{lock}: cargo-audit gave no result: {err[-1] if err else e}"); continue
    theirs = {v["advisory"]["id"] for v in rep.get("vulnerabilities", {}).get("list", [])}
    for kind, items in (rep.get("warnings") or {}).items():
        if kind == "yanked":
            continue
        theirs |= {w["advisory"]["id"] for w in items if w.get("advisory")}
    mine = ours.get(lock, set())
    unexplained = [i for i in mine ^ theirs if explain(i, theirs if i in mine else mine) == i]
    if mine == theirs:
        agree += 1
    elif not unexplained:
        # Same vulnerabilities; one side also names a twin record (e.g. the OSV export's
        # placeholder RUSTSEC-2025-0000 next to RUSTSEC-2025-0065), which beweis groups.
        twins += 1
        print(f"SAME VULNERABILITIES, OTHER IDS {lock}: {sorted(mine ^ theirs)}")
    else:
        differ += 1
        only_ours = [explain(i, theirs) for i in sorted(mine - theirs)]
        only_theirs = [explain(i, mine) for i in sorted(theirs - mine)]
        print(f"DIFF {lock}\n  only beweis: {only_ours}\n  only cargo-audit: {only_theirs}")
ms = summary["load_ms"] + summary["parse_ms"] + summary["match_ms"]
print(f"side by side: {agree} lockfiles agree, {twins} agree up to twin record ids, "
      f"{differ} differ")
print(f"beweis (one process, {len(locks)} lockfiles): {ms:.0f} ms; "
      f"cargo-audit ({len(locks)} processes): {audit_ms} ms; ratio {audit_ms / max(ms, 1):.1f}x")
PY
