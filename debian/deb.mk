# ngx_infer: the Debian packages, a makefile fragment.
#
# Included by the top-level Makefile (-include debian/deb.mk, after the
# variables BUILD and MODULE_SRCS and kernels/cuda/cuda.mk), which it needs.
#
#   make deb    the packages of debian/ in build/deb/, built as Debian
#               builds its nginx modules (dpkg-buildpackage, dh --with
#               nginx: see debian/rules) from a copy of the tree in
#               build/deb/libnginx-mod-http-infer-VERSION/, then lintian
#               on them (fails on an error lintian is not told of in
#               debian/*.lintian-overrides, which say why):
#                 libnginx-mod-http-infer_VERSION_ARCH.deb
#                 libnginx-mod-http-infer-cuda_VERSION_ARCH.deb, where
#                   $(CUDA_HOME)/bin/nvcc is (else the build profile
#                   pkg.ngx-infer.nocuda leaves it out)
#               and their -dbgsym packages.  As root with apt-get, it
#               first installs what it needs (DEB_APT_PKGS: the
#               Build-Depends, the tools, and debootstrap for
#               t/195-deb.t).

# the including makefile's default goal is kept (see the end)
DEB_SAVED_GOAL := $(.DEFAULT_GOAL)

BUILD        ?= build
DEB_DIR      := $(BUILD)/deb
# debian/changelog's version, without dpkg-dev (which make deb installs)
DEB_VERSION  := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_ARCH     := $(shell dpkg --print-architecture 2>/dev/null)
DEB_SRC      := $(DEB_DIR)/libnginx-mod-http-infer-$(DEB_VERSION)
DEB_MAIN     := $(DEB_DIR)/libnginx-mod-http-infer_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_CHANGES  := $(DEB_DIR)/libnginx-mod-http-infer_$(DEB_VERSION)_$(DEB_ARCH).changes
DEB_PROFILES := $(if $(CUDA_SO),,pkg.ngx-infer.nocuda)

# debian/control's Build-Depends (nginx provides nginx-abi-1.22.1-7), the
# package tools, and what t/195-deb.t makes its Debian root with
DEB_APT_PKGS := build-essential debhelper dpkg-dev fakeroot lintian nginx \
                nginx-dev \
                libjansson-dev libutf8proc-dev libpcre2-dev \
                libopenblas-dev zlib1g-dev debootstrap

DEB_INPUTS   := $(MODULE_SRCS) $(CUDA_SRCS) $(CUDA_HDRS) $(CUDA_CSRCS) \
                kernels/cuda/cuda.mk \
                $(filter-out debian/deb.mk,$(wildcard debian/* debian/*/*))

.PHONY: deb deb-deps deb-clean

# lintian twice: every tag, the overridden ones (O:) too, then the verdict
# (an --show-overrides run counts the overridden errors in its exit status)
deb: $(DEB_MAIN)
	@echo "lintian $(DEB_CHANGES):"
	@lintian --display-info --show-overrides $(DEB_CHANGES) || true
	@lintian --fail-on error,warning $(DEB_CHANGES) >/dev/null \
	    || { echo "lintian: errors or warnings not overridden"; exit 1; }
	@echo "lintian: no error or warning that debian/*.lintian-overrides" \
	      "does not explain"

deb-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    missing=$$(for p in $(DEB_APT_PKGS); do \
	        dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	            | grep -q 'ok installed' || echo $$p; done); \
	    if [ -n "$$missing" ]; then \
	        echo apt-get install $$missing; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	            apt-get install -y -qq --no-install-recommends $$missing \
	            >/dev/null; \
	    fi; \
	fi

# the tree as git sees it (tracked and untracked files, not the ignored
# build/ and t/ outputs), else all of it but build/, .git and the tests'
# outputs; dpkg-buildpackage writes the packages beside it, in build/deb
$(DEB_MAIN): $(DEB_INPUTS) | deb-deps
	@test -n "$(DEB_VERSION)" || { echo "debian/changelog: no version"; exit 1; }
	@grep -q '"$(DEB_VERSION)"' ngx_infer_module/ngx_http_infer_module.h \
	    || { echo "debian/changelog's $(DEB_VERSION) is not" \
	              "NGX_HTTP_INFER_VERSION (ngx_http_infer_module.h)"; exit 1; }
	rm -rf $(DEB_SRC) $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb \
	    $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mkdir -p $(DEB_SRC)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z -co --exclude-standard \
	        | tar --null -T - --ignore-failed-read -cf - ; \
	else \
	    tar --exclude=./build --exclude=./.git --exclude=./t/fixtures \
	        --exclude='./t/servroot*' -cf - . ; \
	fi | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && \
	    dpkg-buildpackage -b -us -uc $(if $(DEB_PROFILES),-P$(DEB_PROFILES)) \
	    >../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	tail -12 $(DEB_DIR)/build.log
	rm -rf $(DEB_SRC)

deb-clean:
	rm -rf $(DEB_DIR)

.DEFAULT_GOAL := $(DEB_SAVED_GOAL)
