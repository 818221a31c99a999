/*
 * ngx_infer: what a GGUF decoder needs around its forward pass, from the
 * file's metadata: the byte-level BPE tokenizer (tokenizer.ggml.*), the
 * ids that end a generation, and the chat template
 * (tokenizer.chat_template).  See infer_llama.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_llama.h"


/*
 * Tokens that end a turn in the templates of the families we know, as
 * llama.cpp finds them by their text when the metadata names only one
 */
static const char *const  infer_llama_eog_texts[] = {
    "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>",
    "<|end|>", "<end_of_turn>", "<|eom_id|>", NULL
};


infer_bpe_t *
infer_llama_tokenizer(const infer_gguf_t *f, const char *path, char *err,
    size_t errlen)
{
    int                     rc;
    size_t                  i;
    uint32_t                u;
    int32_t                *types;
    infer_bpe_t            *bpe;
    infer_bpe_str_t        *tokens, *merges;
    infer_bpe_gguf_t        g;
    const infer_gguf_kv_t  *kt, *km, *ky;

    static const char *const  ids[] = {
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id", "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.padding_token_id"
    };

    memset(&g, 0, sizeof(g));
    ky = NULL;

    if (infer_gguf_get_str(f, "tokenizer.ggml.model", &g.model.data,
                           &g.model.len, err, errlen) != 0
        || infer_gguf_get_str(f, "tokenizer.ggml.pre", &g.pre.data,
                              &g.pre.len, err, errlen) < 0
        || infer_gguf_get_arr(f, "tokenizer.ggml.tokens", INFER_GGUF_STRING,
                              &kt, err, errlen) != 0
        || infer_gguf_get_arr(f, "tokenizer.ggml.merges", INFER_GGUF_STRING,
                              &km, err, errlen) != 0
        || infer_gguf_get_arr(f, "tokenizer.ggml.token_type",
                              INFER_GGUF_INT32, &ky, err, errlen) < 0)
    {
        if (g.model.data == NULL) {
            snprintf(err, errlen, "%s: no tokenizer (tokenizer.ggml.model, "
                     "tokens and merges)", path);
        }

        return NULL;
    }

    if (ky != NULL && ky->count != kt->count) {
        snprintf(err, errlen, "%s: tokenizer.ggml.token_type has %llu "
                 "entries for %llu tokens", path,
                 (unsigned long long) ky->count,
                 (unsigned long long) kt->count);
        return NULL;
    }

    tokens = malloc(kt->count * sizeof(infer_bpe_str_t));
    merges = malloc((km->count + 1) * sizeof(infer_bpe_str_t));
    types = malloc(kt->count * sizeof(int32_t));

    if (tokens == NULL || merges == NULL || types == NULL) {
        free(tokens);
        free(merges);
        free(types);
        snprintf(err, errlen, "%s: out of memory for the tokenizer", path);
        return NULL;
    }

    for (i = 0; i < kt->count; i++) {
        tokens[i].data = infer_gguf_kv_str(kt, i, &tokens[i].len);
        types[i] = ky ? (int32_t) infer_gguf_kv_i64(ky, i) : INFER_BPE_NORMAL;
    }

    for (i = 0; i < km->count; i++) {
        merges[i].data = infer_gguf_kv_str(km, i, &merges[i].len);
    }

    g.tokens = tokens;
    g.n_tokens = kt->count;
    g.merges = merges;
    g.n_merges = km->count;
    g.token_types = types;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        u = 0;
        rc = infer_gguf_get_u32(f, ids[i], &u, err, errlen);
        (&g.bos_id)[i] = (rc == 0) ? (int64_t) u : -1;
    }

    g.add_bos = -1;
    g.add_eos = -1;
    (void) infer_gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &g.add_bos,
                               err, errlen);
    (void) infer_gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &g.add_eos,
                               err, errlen);

    bpe = infer_bpe_load_gguf(&g, path, err, errlen);

    /* the tokenizer copied the arrays */
    free(tokens);
    free(merges);
    free(types);

    return bpe;
}


int
infer_llama_eog(const infer_bpe_t *bpe, int32_t *ids, int max)
{
    int               i, j, n;
    int32_t           id;
    infer_bpe_info_t  info;

    infer_bpe_info(bpe, &info);

    n = 0;

    if (info.eos_id >= 0 && n < max) {
        ids[n++] = info.eos_id;
    }

    if (info.eot_id >= 0 && info.eot_id != info.eos_id && n < max) {
        ids[n++] = info.eot_id;
    }

    for (i = 0; infer_llama_eog_texts[i] != NULL && n < max; i++) {
        id = infer_bpe_id(bpe, infer_llama_eog_texts[i],
                          strlen(infer_llama_eog_texts[i]));

        if (id < 0 || infer_bpe_type(bpe, id) != INFER_BPE_CONTROL) {
            continue;
        }

        for (j = 0; j < n && ids[j] != id; j++) {
            /* void */
        }

        if (j == n) {
            ids[n++] = id;
        }
    }

    return n;
}


int
infer_llama_chat_template(const infer_gguf_t *f, const infer_bpe_t *bpe,
    const char *name, infer_chat_template_t *t, const char *path,
    char *err, size_t errlen)
{
    int               rc;
    char              bos[128], eos[128], msg[INFER_ERRLEN];
    size_t            len, blen;
    const char       *tmpl, *p;
    infer_bpe_info_t  info;

    infer_bpe_info(bpe, &info);

    bos[0] = '\0';
    eos[0] = '\0';

    p = (info.bos_id >= 0) ? infer_bpe_token(bpe, info.bos_id, &blen) : NULL;
    if (p != NULL && blen < sizeof(bos)) {
        memcpy(bos, p, blen);
        bos[blen] = '\0';
    }

    p = (info.eos_id >= 0) ? infer_bpe_token(bpe, info.eos_id, &blen) : NULL;
    if (p != NULL && blen < sizeof(eos)) {
        memcpy(eos, p, blen);
        eos[blen] = '\0';
    }

    if (name != NULL) {
        rc = infer_chat_template_named(t, name, bos, eos, msg, sizeof(msg));

    } else {
        tmpl = NULL;
        rc = infer_gguf_get_str(f, "tokenizer.chat_template", &tmpl, &len,
                                msg, sizeof(msg));

        if (rc != 0) {
            snprintf(err, errlen, "%s: %s", path, rc < 0 ? msg : "no "
                     "tokenizer.chat_template: name one with "
                     "chat_template=");
            return -1;
        }

        rc = infer_chat_template_init(t, tmpl, len, bos, eos, msg,
                                      sizeof(msg));
    }

    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return -1;
    }

    return 0;
}
