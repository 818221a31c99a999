# ngx_infer: fuzzing the parsers with libFuzzer, a makefile fragment.
#
# Included by the top-level Makefile (-include fuzz/fuzz.mk), or used
# alone:  make -f fuzz/fuzz.mk fuzz
#
#   make fuzz-build      build/fuzz/fuzz_<name>, one per harness, built
#                        with clang, libFuzzer, ASan and UBSan
#   make fuzz            build, then run each harness FUZZ_SECONDS (60)
#                        seconds; fails on the first crash, leak, timeout
#                        or failed check
#   make fuzz-<name>     one harness alone (fuzz-kserve_json, ...)
#
# The committed seeds are fuzz/corpus/<name>/; what a run adds goes to
# build/fuzz/corpus/<name>/, and a crashing input to build/fuzz/artifacts/.
# One process per harness, one after the other: one core at a time.
# See fuzz/README.md.

# the including makefile's default goal is kept (see the end)
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_BUILD    ?= build/fuzz
FUZZ_OPT      ?= -O1 -g
FUZZ_RUNFLAGS ?=

FUZZ_NAMES    := kserve_json kserve_binary safetensors config tokenizer \
                 openai gguf bpe openai_chat
FUZZ_BINS     := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))

FUZZ_CFLAGS   := -std=gnu99 $(FUZZ_OPT) -Wall -Wextra -Wno-unused-parameter \
                 -Werror -Ikernels -fno-omit-frame-pointer \
                 -fsanitize=fuzzer,address,undefined \
                 -fno-sanitize-recover=all
FUZZ_LIBS     := -ljansson -lopenblas -lm
# and those of one harness
FUZZ_LIBS_tokenizer := -lutf8proc
FUZZ_LIBS_bpe       := -lpcre2-8

# the kernels each harness links
include kernels/kernels.mk

FUZZ_SRCS_kserve_json   := $(KCODEC_SRCS)
FUZZ_SRCS_kserve_binary := $(KCODEC_SRCS)
FUZZ_SRCS_safetensors   := kernels/infer_util.c kernels/infer_safetensors.c
FUZZ_SRCS_config        := $(KMODEL_SRCS) $(KCPU_SRCS)
FUZZ_SRCS_tokenizer     := kernels/infer_util.c $(KTOKEN_SRCS)
FUZZ_SRCS_openai        := $(KCODEC_SRCS)
FUZZ_SRCS_openai_chat   := $(KCODEC_SRCS)
FUZZ_SRCS_gguf          := kernels/infer_util.c kernels/infer_gguf.c \
                           kernels/infer_gguf_meta.c
FUZZ_SRCS_bpe           := kernels/infer_util.c $(KBPE_SRCS)

FUZZ_DEPS     := $(KCODEC_SRCS) $(KMODEL_SRCS) $(KCPU_SRCS) $(KTOKEN_SRCS) \
                 $(KBPE_SRCS) \
                 $(KERNEL_HDRS) \
                 fuzz/fuzz.mk

# the JSON harnesses get a dictionary of their keys and tokens
FUZZ_DICT_kserve_json   := fuzz/kserve.dict
FUZZ_DICT_kserve_binary := fuzz/kserve.dict
FUZZ_DICT_safetensors   := fuzz/safetensors.dict
FUZZ_DICT_config        := fuzz/config.dict
FUZZ_DICT_tokenizer     := fuzz/tokenizer.dict
FUZZ_DICT_openai        := fuzz/openai.dict
FUZZ_DICT_openai_chat   := fuzz/openai_chat.dict
FUZZ_DICT_gguf          := fuzz/gguf.dict
FUZZ_DICT_bpe           := fuzz/bpe.dict

.PHONY: fuzz fuzz-build fuzz-clean fuzz-deps $(patsubst %,fuzz-%,$(FUZZ_NAMES))

# clang and its libFuzzer runtime, from Debian, where they are missing
fuzz-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    missing=$$(for p in clang libclang-rt-14-dev libjansson-dev \
	                     libutf8proc-dev; do \
	        dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	            | grep -q 'ok installed' || echo $$p; done); \
	    if [ -n "$$missing" ]; then \
	        echo "apt-get install $$missing"; \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	            --no-install-recommends $$missing >/dev/null; \
	    fi; \
	fi

fuzz-build: $(FUZZ_BINS)

fuzz: $(patsubst %,fuzz-%,$(FUZZ_NAMES))

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DEPS) | fuzz-deps
	@if ! command -v $(FUZZ_CC) >/dev/null; then \
	    echo "fuzz: clang not found; on Debian: apt-get install" \
	         "clang-14 libclang-rt-14-dev (or set FUZZ_CC)"; \
	    exit 1; \
	fi
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS) \
	    $(FUZZ_LIBS_$*)

# -timeout: one input taking seconds is a bug (a loop, a blow-up)
$(patsubst %,fuzz-%,$(FUZZ_NAMES)): fuzz-%: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts
	$(FUZZ_BUILD)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -dict=$(FUZZ_DICT_$*) \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$*- \
	    $(FUZZ_RUNFLAGS) $(FUZZ_BUILD)/corpus/$* fuzz/corpus/$*

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
