#!/usr/bin/env bash
# TLS collector benchmark (not a test): 1 endpoint vs 20 endpoints, in two settings, one run.
#
# 1. loopback: 21 `openssl s_server` processes on 127.0.0.1, scanned directly. On a small
#    machine this is CPU-bound: every accepted probe costs the server an RSA signature or
#    decryption, and 20 servers share the cores with the scanner. Then the same with one
#    nginx (2 workers) serving 21 TLS ports, if nginx is installed.
# 2. latency: the same servers behind real network delay. The script creates a network
#    namespace, brings up its loopback, and adds `tc qdisc netem delay` there; servers and
#    scanner then run inside the namespace, so all traffic stays in it. If the kernel has no
#    netem (some VM kernels ship without sch_netem), the script says so and puts a userspace
#    delay relay (python3 asyncio, DELAY_MS per direction, connection setup 2*DELAY_MS) in
#    front of each server on 127.0.0.1 instead. s_server is single-threaded and serves one
#    connection at a time, so behind latency it serialises the probes of an endpoint; nginx,
#    which serves connections concurrently like production servers, shows the scanner's own
#    latency behaviour.
#
# Prints, per setting, wall times of one and of twenty endpoints and their ratio (target < 2),
# with the CPU time the scanner and the servers used during each run.
# Usage: deploy/bench/tls-concurrency.sh   (root for the namespace; DELAY_MS default 25)
# Nothing leaves the machine: servers listen on 127.0.0.1, names are *.example.test.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
delay=${DELAY_MS:-25}
command -v nginx > /dev/null || echo "note: no nginx (apt-get install nginx-light): s_server only"
for tool in openssl python3 ip tc; do
  command -v "$tool" > /dev/null || { echo "missing: $tool (apt-get install openssl iproute2 python3)" >&2; exit 1; }
done
work=$(mktemp -d -t tls-conc.XXXXXX)
ns=beweis-bench-$$
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  ip netns del "$ns" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=tls-common.sh
source "$repo/deploy/bench/tls-common.sh"
pki=$work/pki && make_tls_pki "$pki"

cargo build --release -q -p collectors --example tls_bench
bench=$repo/target/release/examples/tls_bench

# The delay relay used when netem is missing: one listener (port 0) per target port, DELAY ms
# each way; prints the listening ports in target order, then "ready".
cat > "$work/relay.py" <<'PY'
import asyncio, sys
delay = int(sys.argv[1]) / 1000
targets = [int(p) for p in sys.argv[2:]]
async def pump(reader, writer):
    queue = asyncio.Queue()
    async def deliver():
        while True:
            at, data = await queue.get()
            await asyncio.sleep(max(0, at - loop.time()))
            if data is None:
                writer.close(); return
            writer.write(data); await writer.drain()
    task = asyncio.ensure_future(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, None))
    await task
async def handle(reader, writer, target):
    await asyncio.sleep(2 * delay)  # the TCP handshake's round trip
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        writer.close(); return
    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer), return_exceptions=True)
async def main():
    for target in targets:
        server = await asyncio.start_server(lambda r, w, t=target: handle(r, w, t), "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
    print("ready", flush=True)
    await asyncio.Event().wait()
loop = asyncio.new_event_loop()
loop.run_until_complete(main())
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # [netns prefix...] port
  local port=${*: -1}
  for _ in $(seq 100); do
    "${@:1:$#-1}" bash -c "echo > /dev/tcp/127.0.0.1/$port" 2> /dev/null && return; sleep 0.05
  done
  echo "port $port did not open" >&2; exit 1
}
serve() {  # [netns prefix...] port
  local port=${*: -1}
  (cd "$pki" && exec "${@:1:$#-1}" openssl s_server -quiet -accept "127.0.0.1:$port" \
     -cert www.pem -key www.key -cert_chain int.pem -www < /dev/null > /dev/null 2>&1) &
  pids+=($!)
}
params() { tls_params "$pki" "$@"; }
tick_ms=$((1000 / $(getconf CLK_TCK)))
server_cpu_ms() {  # CPU (user + system) used so far by the servers started (and their
  local total=0 pid   # children: nginx workers), in ms
  for pid in "${pids[@]}" $(for p in "${pids[@]}"; do pgrep -P "$p"; done); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo $((total * tick_ms))
}
run() {  # params file, [netns prefix...] -> "wall_ms scanner_cpu_ms server_cpu_ms"
  local file=$1; shift
  local before after
  before=$(server_cpu_ms)
  TIMEFORMAT='%3U %3S'
  { time "$@" "$bench" "$file" > "$work/out.json"; } 2> "$work/time.txt"
  after=$(server_cpu_ms)
  python3 - "$work/out.json" "$work/time.txt" $((after - before)) <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["failures"], d["failures"]
user, system = map(float, open(sys.argv[2]).read().split())
print(d["elapsed_ms"], round((user + system) * 1000), sys.argv[3], len(d["observations"]))
PY
}
measure() {  # label, [netns prefix...] -- ports...
  local label=$1; shift
  local prefix=() ports=()
  while [ "$1" != "--" ]; do prefix+=("$1"); shift; done; shift
  ports=("$@")
  params "${ports[0]}" > "$work/one.json"; params "${ports[@]:1}" > "$work/twenty.json"
  run "$work/one.json" "${prefix[@]}" > /dev/null  # warm caches, not counted
  # s_server -www sleeps 1 s (serving no one) after refusing a client renegotiation, which
  # every scan asks for last; let that pass before the timed run on the same server.
  sleep 1.5
  read -r one one_cpu one_srv _ < <(run "$work/one.json" "${prefix[@]}")
  read -r twenty twenty_cpu twenty_srv count < <(run "$work/twenty.json" "${prefix[@]}")
  [ "$count" = 20 ] || { echo "expected 20 observations, got $count" >&2; exit 1; }
  echo "== $label"
  echo "   1 endpoint:   $one ms wall, scanner cpu $one_cpu ms, servers cpu $one_srv ms"
  echo "   20 endpoints: $twenty ms wall, scanner cpu $twenty_cpu ms, servers cpu $twenty_srv ms"
  python3 -c "print(f'   ratio 20/1: {$twenty / max(1, $one):.2f} (target < 2)')"
}

nginx_serve() {  # ports... : one nginx, 2 workers, a TLS 1.2 + 1.3 server block per port
  local dir=$work/nginx p
  mkdir -p "$dir/logs"
  cat "$pki/www.pem" "$pki/int.pem" > "$dir/fullchain.pem"
  { echo "worker_processes 2; daemon off; pid $dir/nginx.pid; error_log $dir/logs/error.log;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;"
    echo "  fastcgi_temp_path $dir/fcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;"
    for p in "$@"; do
      echo "  server { listen 127.0.0.1:$p ssl; server_name www.example.test;"
      echo "    ssl_certificate $dir/fullchain.pem; ssl_certificate_key $pki/www.key;"
      echo "    ssl_protocols TLSv1.2 TLSv1.3;"
      echo "    location / { add_header Strict-Transport-Security "max-age=31536000"; return 200 ok; } }"
    done
    echo "}"; } > "$dir/nginx.conf"
  nginx -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" & pids+=($!)
  for p in "$@"; do wait_port "$p"; done
}
stop_all() { for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done; pids=(); sleep 0.5; }

# 1. loopback, CPU-bound
ports=(); for _ in $(seq 21); do p=$(free_port); serve "$p"; ports+=("$p"); done
for p in "${ports[@]}"; do wait_port "$p"; done
measure "s_server, loopback (cpu-bound, $(nproc) cores)" -- "${ports[@]}"
stop_all
if command -v nginx > /dev/null; then
  ports=(); for _ in $(seq 21); do ports+=("$(free_port)"); done
  nginx_serve "${ports[@]}"
  measure "nginx, loopback (cpu-bound, $(nproc) cores)" -- "${ports[@]}"
  stop_all
fi

# 2. behind latency: netem in a namespace of our own, else the relay
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
if err=$(ip netns exec "$ns" tc qdisc add dev lo root netem delay "${delay}ms" 2>&1); then
  inns=(ip netns exec "$ns")
  ports=(); for i in $(seq 21); do p=$((20000 + i)); serve "${inns[@]}" "$p"; ports+=("$p"); done
  for p in "${ports[@]}"; do wait_port "${inns[@]}" "$p"; done
  measure "netem ${delay} ms each way (namespace $ns)" "${inns[@]}" -- "${ports[@]}"
else
  echo "note: netem unavailable in this kernel ($err); using the userspace delay relay"
  backs=()
  for _ in $(seq 21); do b=$(free_port); serve "$b"; backs+=("$b"); done
  for p in "${backs[@]}"; do wait_port "$p"; done
  relay() {  # label, back ports...
    local label=$1; shift
    rm -f "$work/relay.out"
    python3 "$work/relay.py" "$delay" "$@" > "$work/relay.out" & pids+=($!)
    for _ in $(seq 100); do grep -q ready "$work/relay.out" 2> /dev/null && break; sleep 0.05; done
    mapfile -t fronts < <(grep -v ready "$work/relay.out")
    measure "$label, relay ${delay} ms each way (userspace)" -- "${fronts[@]}"
  }
  relay "s_server" "${backs[@]}"
  stop_all
  if command -v nginx > /dev/null; then
    backs=(); for _ in $(seq 21); do backs+=("$(free_port)"); done
    nginx_serve "${backs[@]}"
    relay "nginx" "${backs[@]}"
  fi
fi
