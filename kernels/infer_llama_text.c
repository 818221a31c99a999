/*
 * ngx_infer: what a decoder needs around its forward pass.  A GGUF file
 * has it in its metadata: the byte-level BPE tokenizer
 * (tokenizer.ggml.*), the ids that end a generation, and the chat
 * template (tokenizer.chat_template).  A Hugging Face directory has it in
 * the files beside config.json: tokenizer.json, tokenizer_config.json
 * (the template, bos_token, eos_token), generation_config.json
 * (eos_token_id).  See infer_llama.h.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "infer_llama.h"


#define INFER_LLAMA_JSON_MAX  (64 * 1024 * 1024)


static int infer_llama_hf_json(const char *dir, const char *name,
    int optional, json_t **root, char **path, char *err, size_t errlen);
static int infer_llama_hf_token(json_t *cfg, const char *key, char *buf,
    size_t size, const char *path, char *err, size_t errlen);
static int infer_llama_hf_template(json_t *cfg, const char *dir,
    const char *path, char **tmpl, char *err, size_t errlen);
static int infer_llama_hf_eos(json_t *gen, const char *path,
    const infer_bpe_t *bpe, int32_t *eog, int max, int *n, char *err,
    size_t errlen);
static void infer_llama_add_id(int32_t *ids, int max, int *n, int32_t id);


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
    size_t            len, blen = 0;
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


int
infer_llama_hf_text(const char *dir, const char *name, int vocab,
    infer_bpe_t **bpe, infer_chat_template_t *t, int32_t *eog, int max_eog,
    int *n_eog, char *err, size_t errlen)
{
    int               i, n, rc;
    char              bos[128], eos[128], msg[INFER_ERRLEN];
    char             *tok, *cfg_path, *gen_path, *tmpl;
    int32_t           ids[64], id;
    json_t           *cfg, *gen;
    infer_bpe_t      *b;
    infer_bpe_info_t  info;

    rc = -1;
    b = NULL;
    cfg = NULL;
    gen = NULL;
    tmpl = NULL;
    cfg_path = NULL;
    gen_path = NULL;
    *bpe = NULL;

    tok = infer_path(dir, "tokenizer.json");
    if (tok == NULL) {
        infer_error(err, errlen, "%s: out of memory", dir);
        goto done;
    }

    b = infer_bpe_load(tok, err, errlen);
    if (b == NULL) {
        goto done;
    }

    infer_bpe_info(b, &info);

    if (info.n_ids > (size_t) vocab) {
        infer_error(err, errlen, "%s: %zu token ids, more than config.json's "
                    "vocab_size %d", tok, info.n_ids, vocab);
        goto done;
    }

    /* a template by name needs no tokenizer_config.json */
    if (infer_llama_hf_json(dir, "tokenizer_config.json", name != NULL, &cfg,
                            &cfg_path, err, errlen) != 0
        || infer_llama_hf_json(dir, "generation_config.json", 1, &gen,
                               &gen_path, err, errlen) != 0
        || infer_llama_hf_token(cfg, "bos_token", bos, sizeof(bos),
                                cfg_path, err, errlen) != 0
        || infer_llama_hf_token(cfg, "eos_token", eos, sizeof(eos),
                                cfg_path, err, errlen) != 0)
    {
        goto done;
    }

    /* generation_config.json's, as transformers' generate() stops; then
     * tokenizer_config.json's eos_token, and the families' end tokens */
    n = 0;

    if (gen != NULL
        && infer_llama_hf_eos(gen, gen_path, b, ids, 64, &n, err, errlen)
           != 0)
    {
        goto done;
    }

    id = (eos[0] != '\0') ? infer_bpe_id(b, eos, strlen(eos)) : -1;

    if (eos[0] != '\0' && id < 0) {
        infer_error(err, errlen, "%s: eos_token \"%.64s\" is not a token of "
                    "tokenizer.json", cfg_path, eos);
        goto done;
    }

    if (id >= 0) {
        infer_llama_add_id(ids, 64, &n, id);
    }

    *n_eog = 0;

    for (i = 0; i < n; i++) {
        infer_llama_add_id(eog, max_eog, n_eog, ids[i]);
    }

    n = infer_llama_eog(b, ids, 64);

    for (i = 0; i < n; i++) {
        infer_llama_add_id(eog, max_eog, n_eog, ids[i]);
    }

    if (name != NULL) {
        if (infer_chat_template_named(t, name, bos, eos, msg, sizeof(msg))
            != 0)
        {
            infer_error(err, errlen, "%s: %s", dir, msg);
            goto done;
        }

    } else {
        if (infer_llama_hf_template(cfg, dir, cfg_path, &tmpl, err, errlen)
            != 0)
        {
            goto done;
        }

        if (infer_chat_template_init(t, tmpl, strlen(tmpl), bos, eos, msg,
                                     sizeof(msg))
            != 0)
        {
            infer_error(err, errlen, "%s: %s", cfg_path, msg);
            goto done;
        }
    }

    *bpe = b;
    b = NULL;
    rc = 0;

done:

    if (b != NULL) {
        infer_bpe_free(b);
    }

    json_decref(cfg);
    json_decref(gen);
    free(tmpl);
    free(tok);
    free(cfg_path);
    free(gen_path);

    return rc;
}


/*
 * dir/name parsed into *root (and its path into *path, for messages);
 * with optional a file that is not there is *root NULL.  0, or -1 with
 * err set.
 */
static int
infer_llama_hf_json(const char *dir, const char *name, int optional,
    json_t **root, char **path, char *err, size_t errlen)
{
    char          *text;
    size_t         len;
    struct stat    sb;
    json_error_t   jerr;

    *root = NULL;

    *path = infer_path(dir, name);
    if (*path == NULL) {
        return infer_error(err, errlen, "%s: out of memory", dir);
    }

    if (optional && stat(*path, &sb) != 0 && errno == ENOENT) {
        return 0;
    }

    text = infer_read_file(*path, INFER_LLAMA_JSON_MAX, &len, err, errlen);
    if (text == NULL) {
        return -1;
    }

    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);

    if (*root == NULL) {
        return infer_error(err, errlen, "%s: line %d, column %d: %s", *path,
                           jerr.line, jerr.column, jerr.text);
    }

    if (!json_is_object(*root)) {
        return infer_error(err, errlen, "%s: not a JSON object", *path);
    }

    return 0;
}


/*
 * tokenizer_config.json's bos_token or eos_token: a string, an
 * AddedToken's {"content": ...}, or null (""), into buf
 */
static int
infer_llama_hf_token(json_t *cfg, const char *key, char *buf, size_t size,
    const char *path, char *err, size_t errlen)
{
    json_t      *v;
    const char  *s;

    buf[0] = '\0';
    v = (cfg == NULL) ? NULL : json_object_get(cfg, key);

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    if (json_is_object(v)) {
        v = json_object_get(v, "content");
    }

    s = json_string_value(v);

    if (s == NULL || strlen(s) >= size) {
        return infer_error(err, errlen, "%s: key \"%s\" is not a string of "
                           "at most %zu bytes, nor an object whose "
                           "\"content\" is", path, key, size - 1);
    }

    memcpy(buf, s, strlen(s) + 1);

    return 0;
}


/*
 * The template text: tokenizer_config.json's "chat_template", a string
 * or a list of {"name", "template"} of which "default"; without it,
 * chat_template.jinja beside it (where newer transformers save it).
 * A copy in *tmpl; 0, or -1 with err set.
 */
static int
infer_llama_hf_template(json_t *cfg, const char *dir, const char *path,
    char **tmpl, char *err, size_t errlen)
{
    char        *jinja;
    size_t       i, len;
    json_t      *v, *e;
    const char  *s, *nm;

    v = json_object_get(cfg, "chat_template");
    s = NULL;

    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            nm = json_string_value(json_object_get(e, "name"));

            if (nm != NULL && strcmp(nm, "default") == 0) {
                s = json_string_value(json_object_get(e, "template"));
                break;
            }
        }

        if (s == NULL) {
            return infer_error(err, errlen, "%s: key \"chat_template\" is a "
                               "list without a \"default\" template: name "
                               "one with chat_template=", path);
        }

    } else if (v != NULL && !json_is_null(v)) {
        s = json_string_value(v);

        if (s == NULL) {
            return infer_error(err, errlen, "%s: key \"chat_template\" is "
                               "neither a string nor a list of named "
                               "templates", path);
        }
    }

    if (s != NULL) {
        *tmpl = strdup(s);
        if (*tmpl == NULL) {
            return infer_error(err, errlen, "%s: out of memory", path);
        }

        return 0;
    }

    jinja = infer_path(dir, "chat_template.jinja");
    if (jinja == NULL) {
        return infer_error(err, errlen, "%s: out of memory", dir);
    }

    *tmpl = infer_read_file(jinja, INFER_LLAMA_JSON_MAX, &len, err, errlen);
    free(jinja);

    if (*tmpl == NULL) {
        return infer_error(err, errlen, "%s: no \"chat_template\" (nor "
                           "chat_template.jinja): name one with "
                           "chat_template=", path);
    }

    if (strlen(*tmpl) != len) {
        free(*tmpl);
        *tmpl = NULL;
        return infer_error(err, errlen, "%s/chat_template.jinja: a NUL "
                           "byte in the template", dir);
    }

    return 0;
}


/* generation_config.json's eos_token_id: an id or a list of them */
static int
infer_llama_hf_eos(json_t *gen, const char *path, const infer_bpe_t *bpe,
    int32_t *eog, int max, int *n, char *err, size_t errlen)
{
    size_t             i, k;
    json_t            *v, *e;
    json_int_t         id;
    infer_bpe_info_t   info;

    v = json_object_get(gen, "eos_token_id");

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    infer_bpe_info(bpe, &info);

    k = json_is_array(v) ? json_array_size(v) : 1;

    for (i = 0; i < k; i++) {
        e = json_is_array(v) ? json_array_get(v, i) : v;
        id = json_is_integer(e) ? json_integer_value(e) : -1;

        if (id < 0 || (size_t) id >= info.n_ids) {
            return infer_error(err, errlen, "%s: key \"eos_token_id\" is not "
                               "an id of tokenizer.json (0 to %zu) nor a "
                               "list of them", path, info.n_ids - 1);
        }

        infer_llama_add_id(eog, max, n, (int32_t) id);
    }

    return 0;
}


static void
infer_llama_add_id(int32_t *ids, int max, int *n, int32_t id)
{
    int  i;

    for (i = 0; i < *n && ids[i] != id; i++) {
        /* void */
    }

    if (i == *n && *n < max) {
        ids[(*n)++] = id;
    }
}
