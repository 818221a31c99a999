# ngx_infer: the test suite under the sanitizers, a makefile fragment.
#
# Included by the top-level Makefile (-include sanitize/asan.mk, after the
# variables BUILD, MODULE, NGINX, FIXTURES and the targets deps, all, unit,
# fixtures), which it needs.  See sanitize/README.md.
#
#   make test-asan      nginx 1.22.1 from Debian's source package and the
#                       module, both built with -fsanitize=address,undefined
#                       (Debian's --with-compat flags), then the whole suite
#                       (prove) against them and the kernels' unit tests
#                       built with the same flags; fails on any ASan, LSan
#                       or UBSan report (printed)
#   make test-valgrind  the whole suite under valgrind (memcheck) against
#                       Debian's nginx and the normal module, less the tests
#                       in sanitize/valgrind-skip.txt; fails on an invalid
#                       access, a use of uninitialised memory or a definite
#                       leak whose stack names the module or the kernels
#
# Both use their own port and prefix (ASAN_PORT, ASAN_SERVROOT; default
# 1991 and /tmp/asan-servroot), so they run next to `make test`.

# the including makefile's default goal is kept (see the end)
ASAN_SAVED_GOAL := $(.DEFAULT_GOAL)

include kernels/kernels.mk

BUILD          ?= build
NGINX          ?= /usr/sbin/nginx
MODULE         ?= $(BUILD)/ngx_http_infer_module.so
FIXTURES       ?= t/fixtures

ASAN_DIR       := $(BUILD)/asan
ASAN_PREFIX    := $(CURDIR)/$(ASAN_DIR)/prefix
ASAN_LOGS      := $(CURDIR)/$(ASAN_DIR)/logs
ASAN_PORT      ?= 1991
ASAN_SERVROOT  ?= /tmp/asan-servroot
# the nginx source package: the version of the installed nginx when the
# archive still has it, else the newest one of bookworm
ASAN_NGX_VER   ?= $(shell dpkg-query -W -f='$${Version}' nginx-common 2>/dev/null)
ASAN_NGX_DIR   := $(ASAN_DIR)/src/nginx
ASAN_NGINX     := $(ASAN_NGX_DIR)/objs/nginx
ASAN_MODULE    := $(ASAN_DIR)/ngx_http_infer_module.so
ASAN_FLAGS     ?= -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1
# nginx's module tables, see the file
ASAN_IGNORE    := -fsanitize-ignorelist=$(CURDIR)/sanitize/asan-ignorelist.txt
ASAN_LDFLAGS   ?= -fsanitize=address,undefined
# clang, not gcc: gcc links two runtimes, libasan.so and libubsan.so, and
# libubsan's calls to __sanitizer_set_report_path bind to libasan's, so
# UBSan reports go to stderr whatever log_path says (and nginx's stderr is
# /dev/null or a file the harness overwrites); -static-libubsan with
# nginx's -Wl,-E interposes the other way and splits LSan's reports.
# clang puts one runtime, ASan with UBSan, in the nginx binary, which the
# module (linked without a runtime) uses.
ASAN_CC        ?= clang
ASAN_SYMBOLIZER ?= $(firstword $(wildcard /usr/bin/llvm-symbolizer \
                    /usr/lib/llvm-*/bin/llvm-symbolizer))
ASAN_SRC_LIST  := /etc/apt/sources.list.d/ngx-infer-deb-src.sources

# the same sources as the top Makefile's MODULE_SRCS, when it is not there
ASAN_MOD_SRCS  := $(or $(MODULE_SRCS),$(wildcard ngx_infer_module/*.c \
                    ngx_infer_module/*.h kernels/*.h kernels/*.c \
                    kernels/cpu/*.c) config)
ASAN_UNITS     := $(ASAN_DIR)/test_kernels $(ASAN_DIR)/test_ops \
                  $(ASAN_DIR)/test_kserve $(ASAN_DIR)/test_cuda \
                  $(ASAN_DIR)/test_stream \
                  $(ASAN_DIR)/test_tokenizer $(ASAN_DIR)/test_json \
                  $(ASAN_DIR)/test_bert $(ASAN_DIR)/test_openai \
                  $(ASAN_DIR)/test_quant $(ASAN_DIR)/test_gguf \
                  $(ASAN_DIR)/test_bpe $(ASAN_DIR)/test_llama \
                  $(ASAN_DIR)/test_gen $(ASAN_DIR)/test_sample \
                  $(ASAN_DIR)/test_chat $(ASAN_DIR)/test_llama_hf

# Leaks are reported at exit by every nginx process (master, workers,
# nginx -t); sanitize/lsan.supp holds nginx's own, sanitize/ubsan.supp the
# undefined behaviour of nginx's own code (never the module's).
# ASan and LSan write to UBSAN_OPTIONS' log_path when both are set (one
# runtime parses both): reports may be named ubsan.PID whatever they are.
# detect_stack_use_after_return: a pointer into a returned function's
# frame (memcheck found an error's param left pointing into a decoder's
# request on the stack; without it ASan reads such memory as valid).
ASAN_ENV = ASAN_SYMBOLIZER_PATH=$(ASAN_SYMBOLIZER) \
    ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:abort_on_error=0:log_path=$(ASAN_LOGS)/asan \
    LSAN_OPTIONS=suppressions=$(CURDIR)/sanitize/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:suppressions=$(CURDIR)/sanitize/ubsan.supp:log_path=$(ASAN_LOGS)/ubsan

VG_LOGS        := $(CURDIR)/$(BUILD)/valgrind
VG_OPTS        := --tool=memcheck --leak-check=full --show-possibly-lost=no \
                  --errors-for-leak-kinds=definite --track-origins=yes \
                  --num-callers=40 --child-silent-after-fork=no \
                  --suppressions=$(CURDIR)/sanitize/valgrind.supp \
                  --gen-suppressions=all --log-file=$(VG_LOGS)/vg.%p
# valgrind is slow: a longer client timeout (TEST_NGINX_TIMEOUT)
VG_TIMEOUT     ?= 30
# VG_TESTS=t/030-infer.t ...: a subset
VG_TESTS       ?= $(filter-out $(shell sed -n 's/^\(t\/[^ ]*\.t\).*/\1/p' \
                    sanitize/valgrind-skip.txt 2>/dev/null), \
                    $(wildcard t/*.t))

.PHONY: test-asan test-valgrind asan-build asan-deps asan-clean \
        asan-port-free

# --- the nginx source package ---------------------------------------------

asan-deps:
	@missing=$$(for p in dpkg-dev clang llvm; do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "apt-get install $$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	fi

$(ASAN_NGX_DIR)/configure: | asan-deps
	@if ! grep -Eqs '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
	        /etc/apt/sources.list $$(ls /etc/apt/sources.list.d/*.list \
	        /etc/apt/sources.list.d/*.sources 2>/dev/null); then \
	    echo "adding $(ASAN_SRC_LIST) (deb-src for bookworm)"; \
	    printf '%s\n' \
	        'Types: deb-src' \
	        'URIs: http://deb.debian.org/debian' \
	        'Suites: bookworm bookworm-updates' \
	        'Components: main' \
	        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
	        '' \
	        'Types: deb-src' \
	        'URIs: http://deb.debian.org/debian-security' \
	        'Suites: bookworm-security' \
	        'Components: main' \
	        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
	        > $(ASAN_SRC_LIST); \
	    apt-get update -qq; \
	fi
	rm -rf $(ASAN_DIR)/src
	mkdir -p $(ASAN_DIR)/src
	@# the installed version first, then the others the index has, newest
	@# first (a mirror may lack the one installed: bookworm-security's)
	cd $(ASAN_DIR)/src && \
	for v in $$({ echo $(ASAN_NGX_VER); apt-cache showsrc nginx 2>/dev/null \
	        | sed -n 's/^Version: //p' | sort -rV; } | awk 'NF && !s[$$0]++'); do \
	    echo "apt-get source nginx=$$v"; \
	    apt-get source -qq nginx=$$v >source.log 2>&1 && exit 0; \
	    grep '^E:' source.log | head -3; rm -rf nginx[-_]*; \
	done; exit 1
	cd $(ASAN_DIR)/src && d=$$(ls -d nginx-1.*/ | head -1) \
	    && test -n "$$d" && ln -sfn "$${d%/}" nginx
	test -x $@ && touch $@

# --- nginx and the module with -fsanitize=address,undefined ---------------

# Debian's flags (nginx-dev's conf_flags: the same --with-compat set as
# /usr/sbin/nginx), the paths moved into build/asan/prefix (the later
# option wins in nginx's configure), and the module
$(ASAN_NGX_DIR)/objs/Makefile: $(ASAN_NGX_DIR)/configure config \
                               sanitize/asan.mk sanitize/asan-ignorelist.txt
	. /usr/share/nginx/src/conf_flags && cd $(ASAN_NGX_DIR) && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --prefix=$(ASAN_PREFIX) \
	        --conf-path=$(ASAN_PREFIX)/conf/nginx.conf \
	        --http-log-path=$(ASAN_PREFIX)/logs/access.log \
	        --error-log-path=stderr \
	        --lock-path=$(ASAN_PREFIX)/logs/nginx.lock \
	        --pid-path=$(ASAN_PREFIX)/logs/nginx.pid \
	        --modules-path=$(ASAN_PREFIX)/modules \
	        --http-client-body-temp-path=$(ASAN_PREFIX)/body \
	        --http-fastcgi-temp-path=$(ASAN_PREFIX)/fastcgi \
	        --http-proxy-temp-path=$(ASAN_PREFIX)/proxy \
	        --http-scgi-temp-path=$(ASAN_PREFIX)/scgi \
	        --http-uwsgi-temp-path=$(ASAN_PREFIX)/uwsgi \
	        --with-cc-opt='$(ASAN_FLAGS) $(ASAN_IGNORE)' \
	        --with-ld-opt='$(ASAN_LDFLAGS)' --with-cc=$(ASAN_CC) \
	        --add-dynamic-module=$(CURDIR) >configure.log 2>&1 \
	    || { tail -30 configure.log; exit 1; }
	touch $@

# the temp paths compiled in must exist (conf-examples/ do not set them)
$(ASAN_NGINX): $(ASAN_NGX_DIR)/objs/Makefile
	$(MAKE) -C $(ASAN_NGX_DIR) -f objs/Makefile binary
	for d in logs conf modules body proxy fastcgi scgi uwsgi; do \
	    mkdir -p $(ASAN_PREFIX)/$$d; done
	touch $@

# next to it, ngx_infer_cuda.so (the module looks for it beside itself)
$(ASAN_MODULE): $(ASAN_NGINX) $(ASAN_MOD_SRCS) $(CUDA_SO)
	$(MAKE) -C $(ASAN_NGX_DIR) -f objs/Makefile modules
	cp $(ASAN_NGX_DIR)/objs/ngx_http_infer_module.so $@.tmp
	mv -f $@.tmp $@
	if [ -f $(BUILD)/ngx_infer_cuda.so ]; then \
	    ln -sfn ../ngx_infer_cuda.so $(ASAN_DIR)/ngx_infer_cuda.so; \
	else rm -f $(ASAN_DIR)/ngx_infer_cuda.so; fi

# the kernels' unit tests with the same flags (t/000-002 run the normal
# ones from build/)
ASAN_KCFLAGS := -std=gnu99 $(ASAN_FLAGS) -Wall -Wextra -Wno-unused-parameter \
                -Ikernels

$(ASAN_DIR)/test_kernels: kernels/test/test_kernels.c kernels/test/tt.h kernels/test/tap.h \
                          kernels/test/ref.h $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_kernels.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

$(ASAN_DIR)/test_ops: kernels/test/test_ops.c kernels/test/tt.h kernels/test/tap.h \
                      kernels/test/ref.h $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_ops.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

$(ASAN_DIR)/test_bert: kernels/test/test_bert.c kernels/test/tt.h kernels/test/tap.h \
                       kernels/test/ref.h $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_bert.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

$(ASAN_DIR)/test_quant: kernels/test/test_quant.c kernels/test/tt.h kernels/test/tap.h \
                       kernels/test/ref.h $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_quant.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

$(ASAN_DIR)/test_llama: kernels/test/test_llama.c kernels/test/tap.h \
                       $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_llama.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

$(ASAN_DIR)/test_gen: kernels/test/test_gen.c kernels/test/tap.h \
                     kernels/test/llama_cases.h kernels/test/gen_drive.h \
                     $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_gen.c \
	    $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas -lm

$(ASAN_DIR)/test_llama_hf: kernels/test/test_llama_hf.c kernels/test/tap.h \
                          kernels/test/llama_cases.h $(ASAN_MOD_SRCS) \
                          | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_llama_hf.c \
	    $(sort $(KMODEL_SRCS) $(KCPU_SRCS) $(KBPE_SRCS) $(KCODEC_SRCS) \
	    $(KLLM_SRCS)) -ljansson -lopenblas -lpcre2-8 -lm

$(ASAN_DIR)/test_sample: kernels/test/test_sample.c kernels/test/tap.h \
                        kernels/test/stop_tests.h $(KGEN_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_sample.c \
	    $(KGEN_SRCS) -ljansson -lm

$(ASAN_DIR)/test_chat: kernels/test/test_chat.c kernels/test/tap.h \
                      $(KCODEC_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_chat.c \
	    $(KCODEC_SRCS) -ljansson -lm

$(ASAN_DIR)/test_gguf: kernels/test/test_gguf.c kernels/test/tap.h \
                      $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_gguf.c \
	    kernels/infer_gguf.c kernels/infer_gguf_meta.c kernels/infer_util.c \
	    -ljansson

$(ASAN_DIR)/test_stream: kernels/test/test_stream.c kernels/infer_stream.h \
                         kernels/test/tap.h \
                         | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_stream.c

$(ASAN_DIR)/test_tokenizer: kernels/test/test_tokenizer.c kernels/test/tap.h \
                            kernels/test/tok_corpus.h $(ASAN_MOD_SRCS) \
                            | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_tokenizer.c \
	    $(KTOKEN_SRCS) kernels/infer_util.c -ljansson -lutf8proc

$(ASAN_DIR)/test_bpe: kernels/test/test_bpe.c kernels/test/bpe_parity.h \
                      kernels/test/tap.h kernels/test/tok_corpus.h \
                      $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_bpe.c \
	    $(KBPE_SRCS) kernels/infer_gguf.c kernels/infer_gguf_meta.c \
	    kernels/infer_util.c $(KLLM_SRCS) kernels/infer_chat.c \
	    kernels/infer_chat_lex.c -ljansson -lpcre2-8

$(ASAN_DIR)/test_json: kernels/test/test_json.c kernels/test/tap.h \
                      $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_json.c \
	    $(KCODEC_SRCS) -ljansson -lm

$(ASAN_DIR)/test_kserve: kernels/test/test_kserve.c kernels/test/tap.h \
                        $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_kserve.c \
	    $(KCODEC_SRCS) -ljansson -lm

$(ASAN_DIR)/test_openai: kernels/test/test_openai.c kernels/test/tap.h \
                        $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_openai.c \
	    $(KCODEC_SRCS) -ljansson -lm

$(ASAN_DIR)/test_cuda: kernels/test/test_cuda.c kernels/test/tt.h kernels/test/tap.h \
                       kernels/test/ref.h $(ASAN_MOD_SRCS) | asan-deps
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(ASAN_KCFLAGS) -o $@ kernels/test/test_cuda.c \
	    $(KCUDA_LOADER) $(KMODEL_SRCS) $(KCPU_SRCS) -ljansson -lopenblas \
	    -lm -ldl

asan-build: $(ASAN_NGINX) $(ASAN_MODULE) $(ASAN_UNITS)

# --- the suite ---------------------------------------------------------------

# the port must be free: an nginx left by an aborted run answers for ours
asan-port-free:
	@if (exec 3<>/dev/tcp/127.0.0.1/$(ASAN_PORT)) 2>/dev/null; then \
	    echo "port $(ASAN_PORT) is in use (an nginx left by an earlier run?)"; \
	    ss -ltnp 2>/dev/null | grep ":$(ASAN_PORT) " || true; exit 1; fi

test-asan: deps unit fixtures $(MODULE) asan-build asan-port-free
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@# a leak suppression matches any frame: none may be a function that
	@# the module or the kernels call
	@for f in $$(sed -n 's/^leak://p' sanitize/lsan.supp); do \
	    if grep -rqw -- "$$f" ngx_infer_module kernels; then \
	        echo "sanitize/lsan.supp: the module calls $$f: refine it"; \
	        exit 1; fi; \
	    case "$$f" in *infer*) echo "sanitize/lsan.supp: $$f"; exit 1;; esac; \
	done
	@echo "== kernels' unit tests, -fsanitize=address,undefined"
	@st=0; for u in $(ASAN_UNITS); do \
	    if [ "$$u" = $(ASAN_DIR)/test_cuda ] \
	       && [ ! -f $(BUILD)/ngx_infer_cuda.so ]; then continue; fi; \
	    $(ASAN_ENV) $$u >$(ASAN_LOGS)/$$(basename $$u).tap 2>&1 \
	        || { echo "$$u failed:"; tail -20 $(ASAN_LOGS)/$$(basename $$u).tap; st=1; }; \
	    grep -c '^ok' $(ASAN_LOGS)/$$(basename $$u).tap | sed "s|^|$$u: |;s|$$| ok|"; \
	done; \
	echo "== the suite: $(ASAN_NGINX) + $(ASAN_MODULE)"; \
	$(ASAN_ENV) \
	TEST_NGINX_BINARY=$(CURDIR)/$(ASAN_NGINX) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(ASAN_MODULE) \
	TEST_NGINX_REPO=$(CURDIR) \
	TEST_NGINX_FIXTURES=$(CURDIR)/$(FIXTURES) \
	TEST_NGINX_SERVER_PORT=$(ASAN_PORT) \
	TEST_NGINX_SERVROOT=$(ASAN_SERVROOT) \
	    prove -I t/lib -r t/ || st=1; \
	sanitize/reports.pl asan $(ASAN_LOGS) || st=1; \
	exit $$st

test-valgrind: deps all unit fixtures asan-port-free
	@command -v valgrind >/dev/null || { \
	    echo "apt-get install valgrind"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends valgrind >/dev/null; }
	@rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	@echo "== valgrind: $(NGINX) + $(MODULE): $(words $(VG_TESTS)) test files"
	@st=0; \
	TEST_NGINX_USE_VALGRIND='$(VG_OPTS)' \
	TEST_NGINX_TIMEOUT=$(VG_TIMEOUT) \
	TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE) \
	TEST_NGINX_REPO=$(CURDIR) \
	TEST_NGINX_FIXTURES=$(CURDIR)/$(FIXTURES) \
	TEST_NGINX_SERVER_PORT=$(ASAN_PORT) \
	TEST_NGINX_SERVROOT=$(ASAN_SERVROOT) \
	    prove -I t/lib $(VG_TESTS) || st=1; \
	sanitize/reports.pl valgrind $(VG_LOGS) || st=1; \
	exit $$st

asan-clean:
	rm -rf $(ASAN_DIR) $(VG_LOGS)

.DEFAULT_GOAL := $(ASAN_SAVED_GOAL)
