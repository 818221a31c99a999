#!/usr/bin/env bash
# ngx_infer benchmark: the module against its peers, then batching.
#
#   bench/run.sh                                   # all three scenarios, defaults
#   BENCH_DURATION=3 BENCH_ROUNDS=1 bench/run.sh   # a quick look
#   BENCH_SCENARIO=batching bench/run.sh           # only the second one
#   BENCH_SCENARIO=embeddings bench/run.sh         # only the third one
#   BENCH_SCENARIO=chat bench/run.sh               # bench/chat.sh alone (not in all)
#
# Scenario 1 ("peers"): five servers answer the same KServe v2 request for
# the mlp784 fixture: (a) ngx_infer with a JSON body, (b) ngx_infer with
# Triton's binary tensor extension, (c) FastAPI + uvicorn + PyTorch,
# (d) FastAPI + uvicorn + numpy, (e) nginx answering a fixed reply (the
# floor); and (f) ngx_infer with its own raw FP32 body (application/
# octet-stream, no JSON at all), for reference. Scenario 2 ("batching"): the heavy fixture on ngx_infer with
# max_batch=1 and max_batch=64 at 1, 16 and 128 connections. Scenario 3
# ("embeddings"): bench/embeddings.sh, POST /v1/embeddings on MiniLM
# against FastAPI + sentence-transformers and FastAPI + onnxruntime, with
# its own variables (BENCH_EMB_*) and its own tables
# (bench/results/embeddings.md). The chat scenario ("chat", not part of
# "all": it needs llama.cpp's llama-server, an 11-minute build):
# bench/chat.sh, POST /v1/chat/completions on SmolLM2 against llama-server,
# with its own variables (BENCH_SECONDS, BENCH_CHAT_*) and its own tables
# (bench/results/chat.md).
#
# Each server runs alone, pinned to CPU $BENCH_SERVER_CPU (0), wrk pinned to
# CPU $BENCH_CLIENT_CPU (1); the targets are interleaved over the rounds so
# that drift of a shared machine hits them all alike. Loopback only. The
# tables go to stdout and to bench/results/latest.md, progress to stderr.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10]      seconds of each timed wrk run
#   BENCH_CONNECTIONS [16]   wrk connections in scenario 1
#   BENCH_ROUNDS [3]         interleaved rounds (the tables show medians)
#   BENCH_WARMUP [2]         seconds of untimed wrk before each timed run
#   BENCH_SCENARIO [all]     all | peers | batching | embeddings | chat
#   BENCH_TARGETS [a b f c d e]      scenario 1 targets to run
#   BENCH_BATCH_CONNECTIONS [1 16 128]
#   BENCH_BATCH_SIZES [1 64]         max_batch values of scenario 2
#   BENCH_SEED [1]           seed of the request's numbers
#   BENCH_BODY_STYLE [python]  python: floats as a Python client prints them
#                              (float64 repr, ~18 digits); shortest: the
#                              shortest float32 form (~10 digits)
#   BENCH_SERVER_CPU [0], BENCH_CLIENT_CPU [1]
#   BENCH_OUT [bench/results/latest.md]
#   BENCH_KEEP [0]           1: keep the work directory (configs, logs, wrk output)
#   BENCH_NO_SETUP [0]       1: skip apt-get / make (already done)
#   BENCH_MODULE [build/ngx_http_infer_module.so]  the module to measure
#                            (with BENCH_NO_SETUP=1: compare two builds)
#   BENCH_MODULE_BASE []     another build (an older commit's) measured in
#                            the same run, interleaved with this one:
#                            targets A, B, F in scenario 1, a "base" row per
#                            max_batch and connections in scenario 2
#   NGINX [/usr/sbin/nginx]

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2}
SCENARIO=${BENCH_SCENARIO:-all}
TARGETS=${BENCH_TARGETS:-a b f c d e}
BATCH_CONNS=${BENCH_BATCH_CONNECTIONS:-1 16 128}
BATCH_SIZES=${BENCH_BATCH_SIZES:-1 64}
SEED=${BENCH_SEED:-1}
BODY_STYLE=${BENCH_BODY_STYLE:-python}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
OUT_MD=${BENCH_OUT:-$BENCH/results/latest.md}
NGINX=${NGINX:-/usr/sbin/nginx}
PY=/usr/bin/python3                 # Debian's interpreter, with python3-* packages
MODULE_BUILT=${BENCH_MODULE:-$REPO/build/ngx_http_infer_module.so}
MODULE_BASE_BUILT=${BENCH_MODULE_BASE:-}
FIXTURES=$REPO/t/fixtures
CLK_TCK=$(getconf CLK_TCK)

APT_PKGS=(wrk nginx-core curl python3-numpy python3-fastapi python3-uvicorn
          python3-uvloop python3-httptools python3-torch)

case $SCENARIO in all|peers|batching|embeddings|chat) ;; *)
    echo "bench: BENCH_SCENARIO must be all, peers, batching, embeddings or chat" >&2; exit 2;;
esac

# scenario 3 alone: its script does its own setup and writes its own tables
if [ "$SCENARIO" = embeddings ]; then
    exec "$BENCH/embeddings.sh"
fi

# the chat scenario: the same, bench/chat.sh
if [ "$SCENARIO" = chat ]; then
    exec "$BENCH/chat.sh"
fi

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }


# ------------------------------------------------------------------ setup

install_deps() {
    local missing=() p
    for p in "${APT_PKGS[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (install them as root)"
    log "apt-get install ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
}

if [ "${BENCH_NO_SETUP:-0}" != 1 ]; then
    install_deps
    log "make -C $REPO deps; make -C $REPO; make -C $REPO fixtures"
    make -C "$REPO" deps >&2        # what the build and the fixtures need
    make -C "$REPO" >&2
    make -C "$REPO" fixtures >&2
fi
[ -f "$MODULE_BUILT" ] || die "$MODULE_BUILT is not built"
[ -f "$FIXTURES/mlp784/model.safetensors" ] || die "no fixtures in $FIXTURES (make fixtures)"

WORK=$(mktemp -d /tmp/ngx_infer_bench.XXXXXX)
chmod 755 "$WORK"                   # nginx workers run as nobody
RESULTS=$WORK/results.jsonl
COMMANDS=$WORK/commands.md
: >"$RESULTS"
: >"$COMMANDS"
SERVER_PID=
FAILED=()

# nginx loads a private copy of the module: the tree is shared, and a
# rebuild (cp into build/) while a server runs rewrites the pages it has
# mapped, which crashes its workers
MODULE=$WORK/ngx_http_infer_module.so
cp "$MODULE_BUILT" "$MODULE"
MODULE_SUM=$(sha256sum "$MODULE" | cut -c1-12)
MODULE_BASE=
BUILDS=new
if [ -n "$MODULE_BASE_BUILT" ]; then
    [ -f "$MODULE_BASE_BUILT" ] || die "$MODULE_BASE_BUILT is not built"
    MODULE_BASE=$WORK/base/ngx_http_infer_module.so
    mkdir -p "$WORK/base"
    cp "$MODULE_BASE_BUILT" "$MODULE_BASE"
    BUILDS="new base"
    case " $TARGETS " in *" a "*) TARGETS="$TARGETS A";; esac
    case " $TARGETS " in *" b "*) TARGETS="$TARGETS B";; esac
    case " $TARGETS " in *" f "*) TARGETS="$TARGETS F";; esac
fi
CONF_MODULE=$MODULE

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

# "PID TICKS" per PID given: utime + stime of the process (all its threads)
# + cutime + cstime (the children it has reaped: a worker that dies during
# a run is counted in its master's share)
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

# ticks between two snapshots (files); a PID new in the second counts whole
cpu_delta() {
    awk 'NR == FNR { t0[$1] = $2; next } { d += $2 - (($1 in t0) ? t0[$1] : 0) }
         END { print d + 0 }' "$1" "$2"
}

# "RSS PSS" in kB summed over the PIDs given
mem_kb() {
    local pid
    for pid in "$@"; do
        cat "/proc/$pid/smaps_rollup" 2>/dev/null || true
    done | awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } END { printf "%d %d\n", r, p }'
}

# wait until something answers HTTP on $1 while PID $2 lives
wait_ready() {
    local url=$1 pid=$2 i code
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
        [ "$code" != 000 ] && [ -n "$code" ] && return 0
        sleep 0.1
    done
    return 1
}

# stop one server by its own PID (TERM, then KILL after 15 s)
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


# ----------------------------------------------------------- servers

# nginx.conf of an ngx_infer server
#   infer_conf DIR PORT MODEL_NAME MODEL_DIR WORKERS MODEL_OPTIONS [ACCESS_LOG]
infer_conf() {
    local dir=$1 port=$2 name=$3 mdir=$4 workers=$5 opts=$6 alog=${7:-}
    local logconf='    access_log off;'
    if [ -n "$alog" ]; then
        # shellcheck disable=SC2016
        logconf=$(printf '    log_format bench_batch "$infer_batch_size";\n    access_log %s bench_batch;' "$alog")
    fi
    cat <<EOF
load_module $CONF_MODULE;

worker_processes  $workers;
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
$logconf

    infer_model  $name  $mdir  $opts;

    server {
        listen 127.0.0.1:$port;
        location /v2 { infer_api kserve; }
    }
}
EOF
}

# nginx.conf of the floor: nginx reads the request and answers a fixed
# KServe response
#   floor_conf DIR PORT FIXED_JSON
floor_conf() {
    local dir=$1 port=$2 fixed=$3
    cat <<EOF
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

    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    access_log off;

    server {
        listen 127.0.0.1:$port;

        # The floor: the least nginx can do for this request, with the
        # body really read. "return 200 text" runs ngx_http_send_response(),
        # whose first step is ngx_http_discard_request_body(): the worker
        # recv()s every byte of the body (into a small scratch buffer, then
        # drops it) before it answers, and waits for late bytes before it
        # reuses the connection. It has to: on a keep-alive connection an
        # unread body would be parsed as the next request, which the
        # verification and wrk's non-200 count would show. Every other
        # stock way to read a body (proxy_pass, mirror, dav PUT,
        # error_page to a static file) adds a hop, a subrequest, a file or
        # an internal redirect on top of this.
        location / {
            default_type application/json;
            return 200 '$fixed';
        }
    }
}
EOF
}

# start_nginx NAME CONF_TEXT: sets SERVER_PID, SERVER_DIR
start_nginx() {
    local name=$1 conf=$2 dir=$3
    mkdir -p "$dir/tmp"
    chmod 755 "$dir"
    printf '%s\n' "$conf" >"$dir/nginx.conf"
    taskset -c "$SERVER_CPU" "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    SERVER_CMD="taskset -c $SERVER_CPU $NGINX -p $dir/ -e $dir/error.log -c $dir/nginx.conf"
}

# start_peer NAME PY_MODULE MODEL_DIR MODEL_NAME PORT DIR
start_peer() {
    local name=$1 mod=$2 mdir=$3 mname=$4 port=$5 dir=$6
    mkdir -p "$dir"
    local envs="BENCH_MODEL_DIR=$mdir BENCH_MODEL_NAME=$mname OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
    SERVER_CMD="$envs taskset -c $SERVER_CPU $PY -m uvicorn --app-dir $BENCH/peers $mod:app --host 127.0.0.1 --port $port --workers 1 --loop uvloop --http httptools --no-access-log --log-level warning"
    # shellcheck disable=SC2086
    env $envs taskset -c "$SERVER_CPU" "$PY" -m uvicorn --app-dir "$BENCH/peers" "$mod:app" \
        --host 127.0.0.1 --port "$port" --workers 1 --loop uvloop --http httptools \
        --no-access-log --log-level warning >"$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
}

# worker processes that died during a run of an nginx server (error.log)
crashes() {
    if [ -f "$1/error.log" ]; then
        grep -c 'exited on signal' "$1/error.log" || true
    else
        echo 0
    fi
}

check_crashes() {   # check_crashes DIR WHAT
    CRASHES=$(crashes "$1")
    if [ "$CRASHES" != 0 ]; then
        log "$2: $CRASHES worker processes died (signal), see $1/error.log:"
        grep 'exited on signal' "$1/error.log" | head -3 >&2 || true
        FAILED+=("$2: $CRASHES worker crashes")
    fi
}

server_failed() {
    local dir=$1
    log "the server did not come up; its logs:"
    tail -n 20 "$dir"/*.log >&2 2>/dev/null || true
}


# --------------------------------------------------------------- wrk

# run_wrk OUTFILE SECONDS CONNECTIONS URL BODY CONTENT_TYPE [HEADER_LEN] [EXTRA_OPTS]
WRK_CMD=
run_wrk() {
    local out=$1 secs=$2 conns=$3 url=$4 body=$5 ctype=$6 hlen=${7:-} extra=${8:-}
    local -a args=(taskset -c "$CLIENT_CPU" wrk -t1 "-c$conns" "-d${secs}s" --latency)
    # shellcheck disable=SC2206
    [ -n "$extra" ] && args+=($extra)
    args+=(-s "$BENCH/post.lua" "$url" -- "$body" "$ctype")
    [ -n "$hlen" ] && args+=("$hlen")
    WRK_CMD="${args[*]}"
    if ! "${args[@]}" >"$out" 2>&1; then
        log "wrk failed:"; cat "$out" >&2; return 1
    fi
}

# measure_run RESULTS_ARGS... : timed wrk run with CPU and memory of the
# server around it; uses URL BODY CTYPE HLEN CONNS EXTRA DIR from the caller
measure() {
    local tag=$1; shift
    local -a pids
    if [ "$WARMUP" != 0 ]; then
        run_wrk "$DIR/warmup-$tag.txt" "$WARMUP" "$CONNS" "$URL" "$BODY" "$CTYPE" "$HLEN" "$EXTRA"
    fi
    [ -n "${BATCH_LOG:-}" ] && BATCH_FROM=$(wc -l <"$BATCH_LOG")
    mapfile -t pids < <(proc_tree "$SERVER_PID")
    cpu_snapshot "${pids[@]}" >"$DIR/cpu0-$tag.txt"
    run_wrk "$DIR/wrk-$tag.txt" "$DURATION" "$CONNS" "$URL" "$BODY" "$CTYPE" "$HLEN" "$EXTRA"
    mapfile -t pids < <(proc_tree "$SERVER_PID")
    cpu_snapshot "${pids[@]}" >"$DIR/cpu1-$tag.txt"
    read -r RSS PSS < <(mem_kb "${pids[@]}")
    CPU_TICKS=$(cpu_delta "$DIR/cpu0-$tag.txt" "$DIR/cpu1-$tag.txt")
    NPROCS=${#pids[@]}
}

# a line for the commands section, with $REPO and $WORK for the two paths
note() { printf '%s\n' "$@" | sed -e "s#$WORK#\$WORK#g" -e "s#$REPO#\$REPO#g" >>"$COMMANDS"; }

note_target() {   # note_target TITLE CONF_FILE_OR_EMPTY
    note "#### $1" "" '```sh' "$SERVER_CMD" "$WRK_CMD" '```' ""
    if [ -n "$2" ]; then
        note '```nginx' "$(cat "$2")" '```' ""
    fi
}


# ------------------------------------------------------ scenario 1

scenario_peers() {
    local prefix=$WORK/body-mlp784 r t port
    "$PY" "$BENCH/tools.py" bodies --model "$FIXTURES/mlp784" --name mlp784 \
        --seed "$SEED" --style "$BODY_STYLE" --out "$prefix" >&2
    BODY_MLP=$(stat -c %s "$prefix.json")
    local fixed hdrlen
    fixed=$(cat "$prefix.fixed.json")
    hdrlen=$(cat "$prefix.hdrlen")
    local -A skip=()
    local -A noted=()

    note "\$REPO is the repository root, \$WORK the run's temporary directory (removed at the end unless BENCH_KEEP=1); the ports are picked free at each start." ""
    note "### Scenario 1" "" \
         "Request bodies: \`$PY bench/tools.py bodies --model t/fixtures/mlp784 --name mlp784 --seed $SEED --style $BODY_STYLE --out BODY\`" \
         "(BODY.json: $BODY_MLP bytes; BODY.bin: the same 784 float32 values as a binary extension body, $(stat -c %s "$prefix.bin") bytes, JSON header $hdrlen bytes; BODY.raw: the 3136 bytes alone)." \
         "Each run: start the server, verify the answer (round 1), ${WARMUP}s of wrk untimed, then the timed run below; the server is stopped by its PID (TERM)." ""

    for ((r = 1; r <= ROUNDS; r++)); do
        for t in $TARGETS; do
            [ -n "${skip[$t]:-}" ] && continue
            port=$(free_port)
            DIR=$WORK/peers-$t-r$r
            mkdir -p "$DIR"
            URL=http://127.0.0.1:$port/v2/models/mlp784/infer
            BODY=$prefix.json CTYPE=application/json HLEN='' EXTRA='' CONNS=$CONNECTIONS
            BATCH_LOG=
            local conf_file='' ready_url=http://127.0.0.1:$port/v2/health/ready
            case $t in
            a|b|f|A|B|F)
                CONF_MODULE=$MODULE
                case $t in A|B|F) CONF_MODULE=$MODULE_BASE;; esac
                start_nginx "$t" "$(infer_conf "$DIR" "$port" mlp784 "$FIXTURES/mlp784" 1 \
                    "max_batch=64 batch_timeout=2ms instances=1")" "$DIR"
                conf_file=$DIR/nginx.conf
                if [ "$t" = b ] || [ "$t" = B ]; then
                    BODY=$prefix.bin CTYPE=application/octet-stream HLEN=$hdrlen
                elif [ "$t" = f ] || [ "$t" = F ]; then
                    BODY=$prefix.raw CTYPE=application/octet-stream
                fi ;;
            c)  start_peer c fastapi_torch "$FIXTURES/mlp784" mlp784 "$port" "$DIR" ;;
            d)  start_peer d fastapi_numpy "$FIXTURES/mlp784" mlp784 "$port" "$DIR" ;;
            e)  start_nginx e "$(floor_conf "$DIR" "$port" "$fixed")" "$DIR"
                conf_file=$DIR/nginx.conf
                ready_url=http://127.0.0.1:$port/ ;;
            *)  die "unknown target $t" ;;
            esac
            log "round $r/$ROUNDS: target $t (PID $SERVER_PID, port $port)"
            if ! wait_ready "$ready_url" "$SERVER_PID"; then
                server_failed "$DIR"; stop_server "$SERVER_PID"
                FAILED+=("$t: did not start"); skip[$t]=1; continue
            fi
            if [ "$r" = 1 ]; then
                local vrc=0 vout
                vout=$("$PY" "$BENCH/tools.py" verify --url "$URL" --body "$BODY" \
                       --content-type "$CTYPE" --expected "$prefix.expected.json" \
                       ${HLEN:+--header-len "$HLEN"}) || vrc=$?
                log "verify $t: $vout"
                if [ "$vrc" = 3 ] && [[ $t == [bfBF] ]]; then
                    # a body form the module does not read (yet): a row
                    # that says so, not a failure
                    "$PY" "$BENCH/tools.py" record --results "$RESULTS" --scenario peers \
                        --target "$t" --round "$r" --connections "$CONNS" \
                        --unavailable "the module answers 400: ${vout#400: }"
                    stop_server "$SERVER_PID"; skip[$t]=1; continue
                elif [ "$vrc" != 0 ]; then
                    log "target $t gives a wrong answer, left out"
                    stop_server "$SERVER_PID"
                    FAILED+=("$t: wrong answer: $vout"); skip[$t]=1; continue
                fi
            fi
            measure "$r"
            stop_server "$SERVER_PID"
            check_crashes "$DIR" "target $t round $r"
            "$PY" "$BENCH/tools.py" record --results "$RESULTS" --scenario peers \
                --target "$t" --round "$r" --connections "$CONNS" --crashes "$CRASHES" \
                --wrk-out "$DIR/wrk-$r.txt" --cpu-ticks "$CPU_TICKS" --clk-tck "$CLK_TCK" \
                --rss-kb "$RSS" --pss-kb "$PSS"
            log "  $(grep -E '^Requests/sec' "$DIR/wrk-$r.txt" || true), server CPU $CPU_TICKS ticks over $NPROCS processes"
            if [ -z "${noted[$t]:-}" ]; then
                note_target "$t" "$conf_file"; noted[$t]=1
            fi
        done
    done
}


# ------------------------------------------------------ scenario 2

# Why this set-up shows batching best on this 2-core machine: wrk needs a
# core of its own, so the server gets exactly one (CPU 0), as in scenario 1.
# One executor (instances=1): with one core there is one core's worth of
# math to do; a second executor would split each batch in two and
# time-slice the same FLOPs. Two workers: the connections spread over two
# processes, so the batches mix rows decoded by different workers, which
# is what the shared-memory queue is for; while the executor computes one
# batch, both event loops keep decoding the next one into the queue.
scenario_batching() {
    local prefix=$WORK/body-heavy r c mb port
    "$PY" "$BENCH/tools.py" bodies --model "$FIXTURES/heavy" --name heavy \
        --seed "$SEED" --style "$BODY_STYLE" --out "$prefix" >&2
    BODY_HEAVY=$(stat -c %s "$prefix.json")
    local -A verified=() noted=()

    note "### Scenario 2" "" \
         "Request body: \`$PY bench/tools.py bodies --model t/fixtures/heavy --name heavy --seed $SEED --style $BODY_STYLE --out BODY\` ($BODY_HEAVY bytes)." \
         "Mean batch size: the access log below logs \$infer_batch_size for each request; the lines written during the timed run are averaged." ""

    for ((r = 1; r <= ROUNDS; r++)); do
        for c in $BATCH_CONNS; do
            for mb in $BATCH_SIZES; do
              for build in $BUILDS; do
                port=$(free_port)
                DIR=$WORK/batch-$build-mb$mb-c$c-r$r
                mkdir -p "$DIR"
                CONF_MODULE=$MODULE
                [ "$build" = base ] && CONF_MODULE=$MODULE_BASE
                URL=http://127.0.0.1:$port/v2/models/heavy/infer
                BODY=$prefix.json CTYPE=application/json HLEN='' EXTRA="--timeout 30s" CONNS=$c
                BATCH_LOG=$DIR/batch.log
                start_nginx "mb$mb" "$(infer_conf "$DIR" "$port" heavy "$FIXTURES/heavy" 2 \
                    "max_batch=$mb batch_timeout=2ms instances=1" "$BATCH_LOG")" "$DIR"
                log "round $r/$ROUNDS: heavy max_batch=$mb, $c connections, $build build (PID $SERVER_PID)"
                if ! wait_ready "http://127.0.0.1:$port/v2/health/ready" "$SERVER_PID"; then
                    server_failed "$DIR"; stop_server "$SERVER_PID"
                    FAILED+=("heavy max_batch=$mb: did not start"); continue
                fi
                if [ -z "${verified[$build$mb]:-}" ]; then
                    local vrc=0 vout
                    vout=$("$PY" "$BENCH/tools.py" verify --url "$URL" --body "$BODY" \
                           --expected "$prefix.expected.json") || vrc=$?
                    log "verify heavy max_batch=$mb: $vout"
                    if [ "$vrc" != 0 ]; then
                        stop_server "$SERVER_PID"
                        FAILED+=("heavy max_batch=$mb: wrong answer: $vout"); continue
                    fi
                    verified[$build$mb]=1
                fi
                measure "$r"
                stop_server "$SERVER_PID"
                check_crashes "$DIR" "heavy max_batch=$mb $c connections round $r"
                "$PY" "$BENCH/tools.py" record --results "$RESULTS" --scenario batching \
                    --target "$build-mb$mb" --max-batch "$mb" --round "$r" --connections "$c" \
                    --crashes "$CRASHES" \
                    --wrk-out "$DIR/wrk-$r.txt" --cpu-ticks "$CPU_TICKS" --clk-tck "$CLK_TCK" \
                    --rss-kb "$RSS" --pss-kb "$PSS" \
                    --batch-log "$BATCH_LOG" --batch-from "$BATCH_FROM"
                log "  $(grep -E '^Requests/sec' "$DIR/wrk-$r.txt" || true)"
                if [ -z "${noted[$build$mb]:-}" ]; then
                    note_target "max_batch=$mb, $build build (shown for $c connections; the others differ only in -c)" \
                        "$DIR/nginx.conf"
                    noted[$build$mb]=1
                fi
              done
            done
        done
    done
}


# --------------------------------------------------------------- main

BODY_MLP=- BODY_HEAVY=-
if [ "$SCENARIO" = all ] || [ "$SCENARIO" = peers ]; then
    scenario_peers
fi
if [ "$SCENARIO" = all ] || [ "$SCENARIO" = batching ]; then
    scenario_batching
fi

git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    git_rev="$git_rev+uncommitted changes"
fi
"$PY" - "$WORK/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "cpu": "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $($NGINX -v 2>&1 | sed 's/.*: //')",
    "git": "commit $git_rev",
    "duration": "$DURATION", "connections": "$CONNECTIONS", "rounds": "$ROUNDS",
    "warmup": "$WARMUP", "server_cpu": "$SERVER_CPU", "client_cpu": "$CLIENT_CPU",
    "body_mlp784": "KServe JSON body of 784 FP32 values, $BODY_MLP bytes ($BODY_STYLE style, seed $SEED)",
    "body_heavy": "KServe JSON body of 1024 FP32 values, $BODY_HEAVY bytes ($BODY_STYLE style, seed $SEED)",
}, open(sys.argv[1], "w"))
EOF

note "Module: $MODULE_BUILT as built at the start of the run (sha256 $MODULE_SUM...), loaded from a private copy." ""
if [ -n "$MODULE_BASE" ]; then
    note "Base build (targets A, B, F and the \"base\" rows): $MODULE_BASE_BUILT (sha256 $(sha256sum "$MODULE_BASE" | cut -c1-12)...), loaded from a private copy." ""
fi
note "Environment: BENCH_DURATION=$DURATION BENCH_CONNECTIONS=$CONNECTIONS BENCH_ROUNDS=$ROUNDS BENCH_WARMUP=$WARMUP BENCH_SCENARIO=$SCENARIO; server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $($PY -c 'import torch, numpy, fastapi, uvicorn; print("torch", torch.__version__, "numpy", numpy.__version__, "fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)')."

mkdir -p "$(dirname "$OUT_MD")"
"$PY" "$BENCH/tools.py" summarize --results "$RESULTS" --meta "$WORK/meta.json" \
    --commands "$COMMANDS" --out "$OUT_MD"
log "written: $OUT_MD"

# scenario 3: bench/embeddings.sh (its setup is quick once this one's is done)
if [ "$SCENARIO" = all ]; then
    "$BENCH/embeddings.sh" || FAILED+=("embeddings (see bench/results/embeddings.md)")
fi

if ((${#FAILED[@]})); then
    log "failed: ${FAILED[*]}"
    exit 1
fi
