# ngx_infer: the kernels' sources, by what links them; included by the
# Makefile and its fragments (fuzz/fuzz.mk, sanitize/asan.mk), so that a
# new file is named once.  The nginx addon script, config, lists them for
# the module too.

# the API codecs: the JSON machinery and KServe v2 (JSON, binary); they
# quote shapes with infer_util.c, which the model sources name too
# (and OpenAI's, with the chat templates their messages go through)
KCODEC_SRCS  := kernels/infer_util.c kernels/infer_json.c \
                kernels/infer_json_number.c kernels/infer_kserve_json.c \
                kernels/infer_kserve_data.c kernels/infer_kserve_binary.c \
                kernels/infer_kserve_encode.c kernels/infer_openai_json.c \
                kernels/infer_openai_encode.c \
                kernels/infer_openai_chat_json.c \
                kernels/infer_openai_chat_input.c \
                kernels/infer_openai_chat_encode.c \
                kernels/infer_chat.c kernels/infer_chat_lex.c

# model formats and architectures, the op layer
KMODEL_SRCS  := kernels/infer_util.c kernels/infer_safetensors.c \
                kernels/infer_graph.c kernels/infer_runner.c \
                kernels/infer_mlp.c kernels/infer_bert.c \
                kernels/infer_model.c kernels/infer_quant.c \
                kernels/infer_gguf.c kernels/infer_gguf_meta.c \
                kernels/infer_llama.c kernels/infer_llama_hf.c \
                kernels/infer_gen.c kernels/infer_gen_prefix.c

# the CPU backend
KCPU_SRCS    := kernels/cpu/infer_cpu.c kernels/cpu/infer_cpu_matmul.c \
                kernels/cpu/infer_cpu_ops.c kernels/cpu/infer_cpu_attention.c \
                kernels/cpu/infer_cpu_vec.c kernels/cpu/infer_cpu_quant.c \
                kernels/cpu/infer_cpu_quant512.c \
                kernels/cpu/infer_cpu_quant_q8.c \
                kernels/cpu/infer_cpu_kv.c

# the loader of the CUDA backend's shared object (no CUDA header)
KCUDA_LOADER := kernels/infer_backend_cuda.c

# the tokenizers: tokenizer.json (jansson), Unicode (utf8proc); they
# report errors with infer_util.c, which the model sources name too
KTOKEN_SRCS  := kernels/infer_tokenizer_json.c kernels/infer_tokenizer_post.c \
                kernels/infer_wordpiece.c

# byte-level BPE (GPT-2, Llama 3, SmolLM): tokenizer.json (jansson) or a
# GGUF's arrays; the pre-tokenizer's expressions by PCRE2 (-lpcre2-8)
KBPE_SRCS    := kernels/infer_bpe.c kernels/infer_bpe_load.c \
                kernels/infer_bpe_pre.c kernels/infer_bpe_json.c \
                kernels/infer_bpe_json_steps.c

# text generation: choosing the next token, the stop strings
KGEN_SRCS    := kernels/infer_sample.c kernels/infer_stop.c

# a GGUF decoder's text: its tokenizer, end ids and chat template (the
# model, BPE and codec sources with it)
KLLM_SRCS    := kernels/infer_llama_text.c

KERNEL_SRCS  := $(KCODEC_SRCS) $(KMODEL_SRCS) $(KCPU_SRCS) $(KCUDA_LOADER) \
                $(KTOKEN_SRCS) $(KBPE_SRCS) $(KGEN_SRCS) $(KLLM_SRCS)
KERNEL_HDRS  := $(wildcard kernels/*.h)
