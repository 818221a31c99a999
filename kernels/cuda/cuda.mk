# ngx_infer: the CUDA backend, build/ngx_infer_cuda.so, a makefile fragment.
#
# Included by the top-level Makefile (-include kernels/cuda/cuda.mk), or
# used alone:  make -f kernels/cuda/cuda.mk cuda
#
# Where $(CUDA_HOME)/bin/nvcc does not exist, CUDA_SO is empty and
# `make cuda` only says so: the module builds and runs without CUDA, and
# `$(CUDA_SO)` can sit in any prerequisite list.
#
# The shared object carries the static CUDA runtime (no libcudart to find
# at run time) and finds cuBLAS through an rpath to $(CUDA_HOME)/lib64, so
# dlopen() works without LD_LIBRARY_PATH.  It exports two symbols,
# infer_cuda_backend_new and infer_cuda_probe: everything else, the CUDA
# runtime and the op layer's C compiled in included, is hidden.  Code for sm_80 (A100, and 8.x) and sm_90
# (H100/H200), plus compute_90 PTX that the driver compiles for newer GPUs.

# the including makefile's default goal is kept (see the end)
CUDA_SAVED_GOAL := $(.DEFAULT_GOAL)

CUDA_HOME    ?= /usr/local/cuda
NVCC         ?= $(CUDA_HOME)/bin/nvcc
CUDA_BUILD   ?= build
CUDA_OBJDIR  := $(CUDA_BUILD)/cuda

# the backend object (infer_cuda*.cu, see infer_cuda.cu), and one file
# per op that it dispatches to (ggml's layout)
CUDA_SRCS    := kernels/cuda/infer_cuda.cu kernels/cuda/infer_cuda_weights.cu \
                kernels/cuda/infer_cuda_compute.cu \
                kernels/cuda/infer_cuda_graphs.cu \
                kernels/cuda/infer_cuda_kv.cu kernels/cuda/matmul.cu \
                kernels/cuda/quant.cu kernels/cuda/kv.cu \
                kernels/cuda/binary.cu kernels/cuda/act.cu \
                kernels/cuda/softmax.cu kernels/cuda/norm.cu \
                kernels/cuda/get_rows.cu kernels/cuda/rope.cu \
                kernels/cuda/attention.cu kernels/cuda/pool.cu \
                kernels/cuda/convert.cu
CUDA_HDRS    := $(wildcard kernels/cuda/*.cuh) kernels/infer_math.h \
                kernels/infer_dtype.h kernels/infer_ops.h \
                kernels/infer_model.h kernels/infer_safetensors.h \
                kernels/infer_gguf.h \
                kernels/infer_backend.h kernels/infer_backend_cuda.h \
                kernels/infer_precision.h kernels/infer_util.h
CUDA_OBJS    := $(patsubst kernels/cuda/%.cu,$(CUDA_OBJDIR)/%.o,$(CUDA_SRCS))

# the op layer's C that the backend calls (the memory planner, the op and
# type names, the error helpers), compiled into the shared object by the
# host compiler: it is linked with -z defs and needs nothing of the module
CUDA_CSRCS   := kernels/infer_graph.c kernels/infer_util.c
CUDA_COBJS   := $(patsubst kernels/%.c,$(CUDA_OBJDIR)/%.o,$(CUDA_CSRCS))
CUDA_CC      ?= $(CC)
CUDA_CCFLAGS := -std=gnu99 -O2 -g -Wall -Wextra -Wno-unused-parameter \
                -Werror -fPIC -fvisibility=hidden -Ikernels

CUDA_ARCH    ?= -gencode arch=compute_80,code=sm_80 \
                -gencode arch=compute_90,code=sm_90 \
                -gencode arch=compute_90,code=compute_90

NVCCFLAGS    ?= -O2 -g
CUDA_CFLAGS  := -std=c++17 $(NVCCFLAGS) $(CUDA_ARCH) -Ikernels \
                -Werror all-warnings \
                -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Werror

CUDA_LDFLAGS := -shared -cudart static $(CUDA_ARCH) \
                -Xlinker -rpath,$(CUDA_HOME)/lib64 \
                -Xlinker --exclude-libs,ALL \
                -Xlinker -z,defs \
                -L$(CUDA_HOME)/lib64
CUDA_LIBS    := -lcublas

.PHONY: cuda cuda-clean

ifneq ($(wildcard $(NVCC)),)

CUDA_SO      := $(CUDA_BUILD)/ngx_infer_cuda.so

cuda: $(CUDA_SO)

$(CUDA_SO): $(CUDA_OBJS) $(CUDA_COBJS)
	$(NVCC) $(CUDA_LDFLAGS) -o $@ $(CUDA_OBJS) $(CUDA_COBJS) $(CUDA_LIBS)

$(CUDA_OBJDIR)/%.o: kernels/cuda/%.cu $(CUDA_HDRS)
	@mkdir -p $(CUDA_OBJDIR)
	$(NVCC) $(CUDA_CFLAGS) -c -o $@ $<

$(CUDA_OBJDIR)/%.o: kernels/%.c $(CUDA_HDRS)
	@mkdir -p $(CUDA_OBJDIR)
	$(CUDA_CC) $(CUDA_CCFLAGS) -c -o $@ $<

else

CUDA_SO      :=

cuda:
	@echo "cuda: $(NVCC) not found (set CUDA_HOME): the CUDA backend is not built"

endif

cuda-clean:
	rm -rf $(CUDA_OBJDIR) $(CUDA_BUILD)/ngx_infer_cuda.so

.DEFAULT_GOAL := $(CUDA_SAVED_GOAL)
