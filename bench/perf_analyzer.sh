#!/usr/bin/env bash
# Triton's perf_analyzer against ngx_infer: the digits model of the quick
# start (models/digits, infer_model digits models/digits max_batch=64
# batch_timeout=2ms, location /v2 { infer_api kserve; }, nothing else in
# nginx.conf for it), perf_analyzer from the tritonclient 2.40.0 wheel
# unchanged (make perf-analyzer), over HTTP at concurrency 1 and 8, its
# random FP32 inputs sent with Triton's binary tensor data extension.
#
#   bench/perf_analyzer.sh                # 5 s windows, a minute or two
#   PA_SECONDS=1 bench/perf_analyzer.sh   # a quick look
#   make bench-perf-analyzer              # the same, after make deps and make
#
# nginx (PA_WORKERS workers) is pinned to CPU $BENCH_SERVER_CPU (0),
# perf_analyzer to CPU $BENCH_CLIENT_CPU (1), on loopback.  perf_analyzer's
# report goes to stdout and, with the command and nginx.conf, to
# $PA_OUT; after it, the server's own statistics of the run (GET
# /v2/models/digits/stats), which must have counted every request that
# perf_analyzer measured.  Exit status: perf_analyzer's, or 1 when the
# server did not start or counted fewer answers.
#
# Environment (defaults in brackets):
#   PA_SECONDS [5]             perf_analyzer's measurement window
#   PA_CONCURRENCY [1:8:7]     --concurrency-range
#   PA_STABILITY [20]          -s: the % within which 3 windows in a row
#                              count as stable (perf_analyzer's default is
#                              10, which a shared machine rarely meets)
#   PA_TRIALS [10]             -r: windows before it gives up
#   PA_WORKERS [1]             nginx's worker_processes
#   PA_MODEL_OPTS [max_batch=64 batch_timeout=2ms]
#   PA_OUT [bench/results/perf_analyzer.md]
#   BENCH_SERVER_CPU [0], BENCH_CLIENT_CPU [1]
#   BENCH_MODULE [build/ngx_http_infer_module.so], NGINX [/usr/sbin/nginx],
#   PERF_ANALYZER [build/perf-analyzer/bin/perf_analyzer]

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${PA_SECONDS:-5}
RANGE=${PA_CONCURRENCY:-1:8:7}
STABILITY=${PA_STABILITY:-20}
TRIALS=${PA_TRIALS:-10}
WORKERS=${PA_WORKERS:-1}
OPTS=${PA_MODEL_OPTS:-max_batch=64 batch_timeout=2ms}
OUT=${PA_OUT:-$REPO/bench/results/perf_analyzer.md}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
MODULE_BUILT=${BENCH_MODULE:-$REPO/build/ngx_http_infer_module.so}
NGINX=${NGINX:-/usr/sbin/nginx}
PA=${PERF_ANALYZER:-$REPO/build/perf-analyzer/bin/perf_analyzer}

log() { printf '[perf_analyzer %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -x "$PA" ] || die "no $PA: make perf-analyzer"
[ -f "$MODULE_BUILT" ] || die "no $MODULE_BUILT: make"
command -v taskset >/dev/null || die "no taskset (util-linux)"

WORK=$(mktemp -d /tmp/ngx_infer_pa.XXXXXX)
chmod 755 "$WORK"                       # nginx workers run as nobody
mkdir -p "$WORK/logs"
MASTER=

cleanup() {
    local rc=$? i
    if [ -n "$MASTER" ]; then
        kill -QUIT "$MASTER" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$MASTER" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$MASTER" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx loads a private copy of the module: a rebuild of build/ while it
# runs would rewrite the pages it has mapped
cp "$MODULE_BUILT" "$WORK/ngx_http_infer_module.so"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$WORK/nginx.conf" <<EOF
load_module $WORK/ngx_http_infer_module.so;

worker_processes  $WORKERS;
error_log         $WORK/logs/error.log notice;
pid               $WORK/logs/nginx.pid;

events {
    worker_connections  1024;
}

http {
    access_log  off;
    client_body_temp_path  $WORK/body;

    infer_model  digits  $REPO/models/digits  $OPTS;

    server {
        listen  127.0.0.1:$PORT;

        location /v2 {
            infer_api  kserve;
        }
    }
}
EOF

log "nginx on 127.0.0.1:$PORT, CPU $SERVER_CPU, $WORKERS worker(s): infer_model digits $OPTS"
taskset -c "$SERVER_CPU" "$NGINX" -p "$WORK/" -e "$WORK/logs/error.log" \
    -c "$WORK/nginx.conf" || die "nginx did not start: $(tail -3 "$WORK/logs/error.log")"
MASTER=$(cat "$WORK/logs/nginx.pid")

for ((i = 0; i < 300; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' \
          "http://127.0.0.1:$PORT/v2/models/digits/ready")" = 200 ] && break
    sleep 0.1
done
[ "$i" -lt 300 ] || die "digits is not ready: $(tail -3 "$WORK/logs/error.log")"

stats() {
    curl -s "http://127.0.0.1:$PORT/v2/models/digits/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)["model_stats"][0]
i = s["inference_stats"]
print(i["success"]["count"], i["fail"]["count"], s["inference_count"],
      s["execution_count"])'
}

read -r ok0 fail0 inf0 exec0 < <(stats)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

CMD=(taskset -c "$CLIENT_CPU" "$PA" -m digits -u "127.0.0.1:$PORT" -i http
     --concurrency-range "$RANGE" -p "$((SECS * 1000))" -s "$STABILITY"
     -r "$TRIALS")
log "${CMD[*]}"
set +e
"${CMD[@]}" | tee "$WORK/report.txt"
rc=${PIPESTATUS[0]}
set -e

read -r ok1 fail1 inf1 exec1 < <(stats)
measured=$(awk '/^    Request count:/ { n += $3 } END { print n + 0 }' "$WORK/report.txt")
server="the server's statistics of the run: $((ok1 - ok0)) requests answered,"
server+=" $((fail1 - fail0)) with an error, $((inf1 - inf0)) rows in"
server+=" $((exec1 - exec0)) batches; perf_analyzer measured $measured requests"
echo
echo "$server"

mkdir -p "$(dirname "$OUT")"
{
    echo "# Triton's perf_analyzer against ngx_infer"
    echo
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
    echo "$(date -u +%F), $(nproc) CPUs ($cpu)," \
         "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///')," \
         "perf_analyzer $("$PA" --version 2>&1 | awk '{print $4}')," \
         "load average $LOAD before the run"
    echo
    echo '```'
    echo "${CMD[*]}" | sed "s#$REPO/##g"
    echo
    cat "$WORK/report.txt"
    echo
    echo "$server"
    echo '```'
    echo
    echo '```nginx'
    sed "s#$WORK#WORK#g; s#$REPO/##g" "$WORK/nginx.conf"
    echo '```'
} >"$OUT"
log "written to $OUT"

[ "$rc" = 0 ] || exit "$rc"
[ $((ok1 - ok0)) -ge "$measured" ] && [ "$fail1" = "$fail0" ] \
    || die "the server counted fewer answers than perf_analyzer measured"
