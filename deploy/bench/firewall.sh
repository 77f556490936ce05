#!/usr/bin/env bash
# Firewall collector benchmark (not a test): a generated ruleset of N nftables rules (default
# 10,000: ports, port ranges, source prefixes, a jump chain, a verdict map, drops) loaded into
# a network namespace this script creates and deletes; then wall time and peak RSS of
#   (1) `nft -j list ruleset` alone, and
#   (2) the whole collector (nft + iptables readers, analysis of both families, facts),
# both run inside the namespace. Needs root, nftables, iptables, iproute2. Never touches the
# host's own firewall.
# Usage: deploy/bench/firewall.sh [rules]
# BENCH_TEST_BIN may name an already built collectors test binary (else it is built here).
set -euo pipefail
cd "$(dirname "$0")/../.."
rules=${1:-10000}
ns="beweis-test-bench-$$"
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bin=${BENCH_TEST_BIN:-}
if [ -z "$bin" ]; then
  bin=$(cargo test -p collectors --release --no-run 2>&1 \
    | sed -n 's/.*Executable unittests src\/lib.rs (\(.*\))/\1/p' | head -1)
fi
[ -x "$bin" ] || { echo "no collectors test binary (set BENCH_TEST_BIN)" >&2; exit 1; }

# The ruleset: a quarter each of single ports, port ranges, prefix+port, and rules in a
# jumped-to chain; one verdict map; policy drop.
python3 - "$rules" > "$work/ruleset.nft" <<'PY'
import sys
n = int(sys.argv[1])
q = n // 4
print("table inet bench {")
print("  chain sub {")
for i in range(q):
    print(f"    ip saddr 198.51.{i // 256 % 256}.{i % 256} tcp dport {20000 + i % 5000} drop")
print("  }")
print("  chain input {")
print("    type filter hook input priority filter; policy drop;")
print("    ct state established,related accept")
print("    iifname \"lo\" accept")
print("    tcp dport vmap { 7000 : accept, 7001 : drop, 7002 : jump sub }")
for i in range(q):
    print(f"    tcp dport {1024 + (i * 7) % 60000} accept")
for i in range(q):
    lo = 2000 + (i * 13) % 60000
    print(f"    udp dport {lo}-{min(lo + 5, 65535)} accept")
for i in range(q):
    print(f"    ip saddr 203.0.{i // 256 % 256}.{i % 256}/32 tcp dport {30000 + i % 3000} accept")
print("    jump sub")
for i in range(n - 4 * q):
    print(f"    tcp dport {60000 + i} drop")
print("    tcp dport 20000-25000 accept")
print("  }")
print("}")
PY

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" nft -f "$work/ruleset.nft"
echo "rules loaded: $(ip netns exec "$ns" nft -a list ruleset | grep -c '# handle')"

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || {
    cat "$work/err" >&2; exit 1; }
  read -r secs user sys kib < "$work/time"
  printf '%-34s %6s s wall  %6s s user  %5s s sys  %8s KiB peak RSS\n' \
    "$label" "$secs" "$user" "$sys" "$kib"
}

measure "nft -j list ruleset" ip netns exec "$ns" nft -j list ruleset
echo "nft json bytes: $(wc -c < "$work/out")"
export BEWEIS_FW_CHILD_CONFIG='{}' BEWEIS_FW_CHILD_LISTEN=''
measure "firewall collector (all readers)" ip netns exec "$ns" "$bin" --exact \
  firewall::tests::netns_child --include-ignored --nocapture --test-threads 1
grep -o 'BEWEIS-FW-RESULT:.*' "$work/out" | cut -d: -f2- | python3 -c '
import json, sys
r = json.load(sys.stdin)["facts"]
print("status:", r["status"], " rule_count:", r["rule_count"],
      " ipv4 entries:", r["ipv4"]["exposed_count"],
      " ipv6:", r["default_inbound_ipv6"],
      " approximations:", len(r["approximations"]))'
