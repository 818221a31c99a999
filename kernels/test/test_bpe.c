/*
 * ngx_infer: the byte-level BPE's tests (infer_bpe.h), printing TAP.
 *
 * Unit cases on a small vocabulary written here, as tokenizer.json and as
 * a GGUF's arrays (the 256 byte tokens in byte order, so that a byte's id
 * is the byte, and a few merges whose ranks decide): the merge order, the
 * heap path of long pieces, the pre-tokenizers by name and from the file,
 * ignore_merges, the added and special tokens, the post-processor,
 * decoding and the stream decoder, and every load error.  Then parity
 * with Hugging Face's `tokenizers` on SmolLM2-135M-Instruct's vocabulary
 * (bpe_parity.h): the fixtures of t/lib/gen_bpe_corpus.py (make
 * fixtures), in $TEST_NGINX_FIXTURES/bpe or argv[1]; without them those
 * are skipped.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "infer_bpe.h"

#include "tap.h"
#include "bpe_parity.h"


/* the small vocabulary: ids 0-255 the bytes, then these */
enum {
    SP = 32, ONE = 49, TWO = 50, A = 97, B = 98, C = 99,
    G_T = 256, HE, G_THE, AA, AAAA, BC, AB, E_ACUTE, TWELVE, G_G, IM_START,
    IM_END, NEW, ABC, N_IDS
};

static const char *const  t_extra[] = {
    "\xc4\xa0t", "he", "\xc4\xa0the", "aa", "aaaa", "bc", "ab",
    "\xc3\x83\xc2\xa9", "12", "\xc4\xa0\xc4\xa0", "<|im_start|>",
    "<|im_end|>", "<new>", "abc"
};

/* in rank order; "b c" before "a b": "abc" is a + bc */
static const char *const  t_merges[] = {
    "\xc4\xa0 t", "h e", "\xc4\xa0t he", "a a", "aa aa", "b c", "a b",
    "\xc3\x83 \xc2\xa9", "1 2", "\xc4\xa0 \xc4\xa0", NULL
};


/* the small tokenizer.json, with its pre-tokenizer, model flags and
 * post-processor as given */
static char *
t_json(const char *pre, const char *model_extra, const char *post)
{
    char      *j, c[4];
    size_t     cap, n, k, b;

    cap = 65536;
    j = malloc(cap);
    if (j == NULL) {
        exit(2);
    }

    n = (size_t) snprintf(j, cap, "{\"version\": \"1.0\", \"truncation\": "
                          "null, \"padding\": null, \"added_tokens\": ["
                          "{\"id\": %d, \"content\": \"<|im_start|>\", "
                          "\"single_word\": false, \"lstrip\": false, "
                          "\"rstrip\": false, \"normalized\": false, "
                          "\"special\": true}, {\"id\": %d, \"content\": "
                          "\"<|im_end|>\", \"single_word\": false, "
                          "\"lstrip\": false, \"rstrip\": false, "
                          "\"normalized\": false, \"special\": true}, "
                          "{\"id\": %d, \"content\": \"<new>\", "
                          "\"single_word\": false, \"lstrip\": false, "
                          "\"rstrip\": false, \"normalized\": true, "
                          "\"special\": false}], \"normalizer\": null, "
                          "\"pre_tokenizer\": %s, \"post_processor\": %s, "
                          "\"decoder\": {\"type\": \"ByteLevel\", "
                          "\"add_prefix_space\": true, \"trim_offsets\": "
                          "true, \"use_regex\": true}, \"model\": {\"type\": "
                          "\"BPE\", \"dropout\": null, \"unk_token\": null, "
                          "\"continuing_subword_prefix\": null, "
                          "\"end_of_word_suffix\": null, \"fuse_unk\": "
                          "false, \"byte_fallback\": false%s, \"vocab\": {",
                          IM_START, IM_END, NEW, pre,
                          post ? post : "null", model_extra);

    for (b = 0; b < 256; b++) {
        k = t_byte_char((unsigned) b, c);
        n += (size_t) snprintf(j + n, cap - n, "\"%s%.*s\": %zu, ",
                               (c[0] == '"' || c[0] == '\\') ? "\\" : "",
                               (int) k, c, b);
    }

    for (b = 0; b < N_IDS - 256; b++) {
        n += (size_t) snprintf(j + n, cap - n, "\"%s\": %zu%s", t_extra[b],
                               b + 256, b + 257 < N_IDS ? ", " : "");
    }

    n += (size_t) snprintf(j + n, cap - n, "}, \"merges\": [");

    for (b = 0; t_merges[b] != NULL; b++) {
        n += (size_t) snprintf(j + n, cap - n, "%s\"%s\"", b ? ", " : "",
                               t_merges[b]);
    }

    snprintf(j + n, cap - n, "]}}");

    return j;
}


#define T_BYTE_LEVEL                                                         \
    "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, "                \
    "\"trim_offsets\": true, \"use_regex\": true}"

#define T_SMOLLM                                                             \
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", "   \
    "\"individual_digits\": true}, " T_BYTE_LEVEL "]}"

#define T_TEMPLATE                                                           \
    "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "    \
    "{\"id\": \"<|im_start|>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": "  \
    "\"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<|im_end|>\", "  \
    "\"type_id\": 0}}], \"pair\": [], \"special_tokens\": {"                 \
    "\"<|im_start|>\": {\"id\": \"<|im_start|>\", \"ids\": [266], "          \
    "\"tokens\": [\"<|im_start|>\"]}, \"<|im_end|>\": {\"id\": "             \
    "\"<|im_end|>\", \"ids\": [267], \"tokens\": [\"<|im_end|>\"]}}}"


static infer_bpe_t *
t_load(const char *pre, const char *extra, const char *post)
{
    char         *j, err[INFER_ERRLEN];
    infer_bpe_t  *bpe;

    j = t_json(pre, extra, post);
    bpe = infer_bpe_load_buffer(j, strlen(j), "t.json", err, sizeof(err));
    free(j);

    if (bpe == NULL) {
        printf("# load: %s\n", err);
    }

    return bpe;
}


/* the small vocabulary as a GGUF's arrays, under the pre-tokenizer name */
static infer_bpe_t *
t_gguf(const char *pre, int add_bos)
{
    char              bytes[256][4], err[INFER_ERRLEN];
    size_t            i;
    int32_t           types[N_IDS];
    infer_bpe_t      *bpe;
    infer_bpe_str_t   tokens[N_IDS], merges[16];
    infer_bpe_gguf_t  g;

    memset(&g, 0, sizeof(g));

    for (i = 0; i < N_IDS; i++) {
        if (i < 256) {
            tokens[i].len = t_byte_char((unsigned) i, bytes[i]);
            tokens[i].data = bytes[i];
        } else {
            tokens[i].data = t_extra[i - 256];
            tokens[i].len = strlen(t_extra[i - 256]);
        }

        types[i] = i == IM_START || i == IM_END ? INFER_BPE_CONTROL
                   : i == NEW ? INFER_BPE_USER_DEFINED : INFER_BPE_NORMAL;
    }

    for (i = 0; t_merges[i] != NULL; i++) {
        merges[i].data = t_merges[i];
        merges[i].len = strlen(t_merges[i]);
    }

    g.model.data = "gpt2";
    g.model.len = 4;
    g.pre.data = pre;
    g.pre.len = pre ? strlen(pre) : 0;
    g.tokens = tokens;
    g.n_tokens = N_IDS;
    g.merges = merges;
    g.n_merges = i;
    g.token_types = types;
    g.bos_id = IM_START;
    g.eos_id = IM_END;
    g.eot_id = -1;
    g.unk_id = -1;
    g.pad_id = -1;
    g.add_bos = add_bos;
    g.add_eos = -1;

    bpe = infer_bpe_load_gguf(&g, "t.gguf", err, sizeof(err));
    if (bpe == NULL) {
        printf("# load: %s\n", err);
    }

    return bpe;
}


static void
t_ids(infer_bpe_t *bpe, const char *what, const char *text, size_t len,
    unsigned flags, const int32_t *want, size_t nwant)
{
    int       same;
    char      err[INFER_ERRLEN];
    size_t    n;
    int32_t   ids[512];

    if (bpe == NULL) {
        ok(0, "%s: no tokenizer", what);
        return;
    }

    if (infer_bpe_encode(bpe, NULL, text, len, flags, ids, 512, &n, err,
                         sizeof(err))
        != 0)
    {
        ok(0, "%s: %s", what, err);
        return;
    }

    same = n == nwant && memcmp(ids, want, n * sizeof(int32_t)) == 0;
    if (!same) {
        t_show_ids("got", ids, n);
    }

    ok(same, "%s", what);
}


#define T_IDS(bpe, what, text, flags, ...)                                    \
    do {                                                                      \
        static const int32_t  w_[] = { __VA_ARGS__ };                         \
        t_ids(bpe, what, text, sizeof(text) - 1, flags, w_,                   \
              sizeof(w_) / sizeof(w_[0]));                                    \
    } while (0)


#define T_SPLIT(re)                                                          \
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", "    \
    "\"pattern\": {\"Regex\": \"" re "\"}, \"behavior\": \"Isolated\", "     \
    "\"invert\": false}, " T_BYTE_LEVEL "]}"


static char *t_edit(const char *pre, const char *from, const char *to);
static char *t_replace(const char *j, const char *from, const char *to);


static void
test_merges(void)
{
    char          text[200], err[INFER_ERRLEN], *j, *v[3];
    size_t        n, i;
    int32_t       ids[512];
    infer_bpe_t  *bpe, *smol, *g2, *gs, *gl;

    bpe = t_load(T_BYTE_LEVEL, "", NULL);
    ok(bpe != NULL, "the small tokenizer.json loads");
    if (bpe == NULL) {
        return;
    }

    T_IDS(bpe, "a merge of a merge: \" the\"", " the", 0, G_THE);
    T_IDS(bpe, "no merge of t and he: \"the\"", "the", 0, 't', HE);
    T_IDS(bpe, "the lower rank first: \"abc\" is a + bc", "abc", 0, A, BC);
    T_IDS(bpe, "the leftmost of equal ranks first: aaaaa", "aaaaa", 0,
          AAAA, A);
    T_IDS(bpe, "two bytes of one character: \xc3\xa9", "\xc3\xa9", 0,
          E_ACUTE);
    T_IDS(bpe, "GPT-2's expression: \" 12345\" is one piece", " 12345", 0,
          SP, TWELVE, '3', '4', '5');
    T_IDS(bpe, "GPT-2's expression: the last space of a run goes with the "
          "digit", "  1", 0, SP, SP, ONE);
    T_IDS(bpe, "a control byte and U+0085 are bytes", "\x01\xc2\x85", 0,
          1, 0xc2, 0x85);

    /* the scan merges pieces of up to 48 bytes, the heap the longer */
    for (n = 40; n <= 120; n += 8) {
        memset(text, 'a', n + 1);
        infer_bpe_encode(bpe, NULL, text, n + 1, 0, ids, 512, &i, err,
                         sizeof(err));
        ok(i == (n + 1) / 4 + 1 && ids[0] == AAAA && ids[i - 1] == A,
           "%zu a: %zu aaaa and an a (%s)", n + 1, (n + 1) / 4,
           n + 1 <= 48 ? "scan" : "heap");
    }

    smol = t_load(T_SMOLLM, "", NULL);
    T_IDS(smol, "Digits first: \"  1\" is \"  \" and \"1\"", "  1", 0,
          G_G, ONE);
    T_IDS(smol, "Digits first: \" 12\" is \" \", 1, 2", " 12", 0, SP, ONE,
          TWO);

    g2 = t_gguf("gpt2", 0);
    gs = t_gguf("smollm", 0);
    gl = t_gguf("llama-bpe", 0);
    T_IDS(g2, "GGUF, gpt2: \"  1\"", "  1", 0, SP, SP, ONE);
    T_IDS(gs, "GGUF, smollm: \"  1\"", "  1", 0, G_G, ONE);
    T_IDS(g2, "GGUF, gpt2: \"abc\" by the merges", "abc", 0, A, BC);
    T_IDS(gl, "GGUF, llama-bpe: \"abc\" is a token (ignore_merges)", "abc",
          0, ABC);
    T_IDS(gl, "GGUF, llama-bpe: \"1234\" is 123 and 4", "1234", 0, TWELVE,
          '3', '4');
    T_IDS(gl, "GGUF, llama-bpe: 's in any case", "X'S", 0, 'X', '\'', 'S');
    T_IDS(gl, "GGUF, llama-bpe: but ASCII's, as llama.cpp's (' + U+017F + a "
          "is one piece)", "'\xc5\xbf" "a", 0, '\'', 0xc5, 0xbf, A);

    infer_bpe_free(bpe);

    /* "!" without a token: tokenizers' unk_token, a run fused into one
     * with fuse_unk; nothing without an unk_token */
    j = t_edit(T_BYTE_LEVEL, "\"!\": 33", "\"zz!\": 33");
    v[0] = t_replace(j, "\"unk_token\": null", "\"unk_token\": \"aa\"");
    v[1] = t_replace(v[0], "\"fuse_unk\": false", "\"fuse_unk\": true");
    v[2] = j;

    for (i = 0; i < 3; i++) {
        bpe = infer_bpe_load_buffer(v[i], strlen(v[i]), "t.json", err,
                                    sizeof(err));
        if (bpe == NULL) {
            printf("# %s\n", err);
        }

        if (i == 0) {
            /* as in tokenizers, the unk_token merges like any token */
            T_IDS(bpe, "a byte without a token is unk_token", "b!!b", 0,
                  B, AAAA, B);
        } else if (i == 1) {
            T_IDS(bpe, "a run of them one unk_token with fuse_unk", "b!!b", 0,
                  B, AA, B);
        } else {
            T_IDS(bpe, "without unk_token they are nothing", "b!!b !", 0,
                  B, B, SP);
        }

        infer_bpe_free(bpe);
        free(v[i]);
    }

    bpe = t_load("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                 "\"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": "
                 "\"Removed\", \"invert\": false}, {\"type\": \"Split\", "
                 "\"pattern\": {\"String\": \"a.\"}, \"behavior\": "
                 "\"Isolated\", \"invert\": false}, " T_BYTE_LEVEL "]}", "",
                 NULL);
    T_IDS(bpe, "Split: Removed drops the spaces, a String is itself (a. is "
          "not a regular expression)", " the  abc a.b", 0, 't', HE, A, BC,
          A, '.', B);
    infer_bpe_free(bpe);

    bpe = t_load(T_SPLIT("a[bc]{,2}|\\\\s"), "", NULL);
    T_IDS(bpe, "Oniguruma's {,2} is {0,2}", "abcab c", 0, A, BC, AB, SP, C);
    infer_bpe_free(bpe);

    bpe = t_load(T_BYTE_LEVEL, ", \"ignore_merges\": true", NULL);
    T_IDS(bpe, "tokenizer.json, ignore_merges: \"abc\"", "abc", 0, ABC);
    infer_bpe_free(bpe);

    infer_bpe_free(smol);
    infer_bpe_free(g2);
    infer_bpe_free(gs);
    infer_bpe_free(gl);
}


static void
test_special(void)
{
    int                 rc;
    char                err[INFER_ERRLEN];
    size_t              n;
    int32_t             ids[8];
    infer_bpe_t        *bpe, *tpl, *g;
    infer_bpe_info_t    info;
    infer_bpe_state_t  *st;

    bpe = t_load(T_BYTE_LEVEL, "", NULL);
    tpl = t_load(T_BYTE_LEVEL, "", T_TEMPLATE);
    g = t_gguf("smollm", 1);

    T_IDS(bpe, "special tokens matched with INFER_BPE_SPECIAL",
          "<|im_start|>the<|im_end|>", INFER_BPE_SPECIAL, IM_START, 't', HE,
          IM_END);
    T_IDS(bpe, "special tokens are text without it", "<|im_end|>", 0,
          '<', '|', 'i', 'm', '_', 'e', 'n', 'd', '|', '>');
    T_IDS(bpe, "a non-special added token is matched always", "a<new>b", 0,
          A, NEW, B);
    T_IDS(bpe, "a near miss is text", "<|im_end|", INFER_BPE_SPECIAL,
          '<', '|', 'i', 'm', '_', 'e', 'n', 'd', '|');
    T_IDS(bpe, "leftmost: <<|im_end|>", "<<|im_end|>", INFER_BPE_SPECIAL,
          '<', IM_END);
    T_IDS(tpl, "TemplateProcessing with INFER_BPE_ADD_SPECIAL", "the",
          INFER_BPE_ADD_SPECIAL, IM_START, 't', HE, IM_END);
    T_IDS(tpl, "and without it", "the", 0, 't', HE);
    T_IDS(g, "GGUF: add_bos_token puts bos_token_id first", "the",
          INFER_BPE_ADD_SPECIAL, IM_START, 't', HE);
    infer_bpe_free(g);
    g = t_gguf("llama-bpe", -1);
    T_IDS(g, "GGUF: llama-bpe without add_bos_token adds BOS, as llama.cpp",
          "the", INFER_BPE_ADD_SPECIAL, IM_START, 't', HE);
    infer_bpe_free(g);
    g = t_gguf("smollm", 1);

    if (tpl != NULL && g != NULL) {
        infer_bpe_info(tpl, &info);
        ok(info.n_head == 1 && info.n_tail == 1 && info.bos_id == IM_START
           && info.eos_id == IM_END && info.n_ids == N_IDS
           && info.vocab_size == N_IDS && info.n_merges == 10
           && info.n_added == 3 && strcmp(info.pre, "tokenizer.json") == 0
           && info.n_pre_steps == 1, "info of a tokenizer.json");
        infer_bpe_info(g, &info);
        ok(info.n_head == 1 && info.bos_id == IM_START
           && info.eos_id == IM_END && strcmp(info.pre, "smollm") == 0
           && info.n_pre_steps == 2 && !info.ignore_merges,
           "info of a GGUF's arrays");
    }

    if (bpe != NULL) {
        rc = infer_bpe_encode(bpe, NULL, "the the the", 11, 0, ids, 2, &n,
                              err, sizeof(err));
        ok(rc == -1 && strstr(err, "4 tokens, more than the 2") != NULL,
           "too many tokens: -1, and how many (%s)", err);
        rc = infer_bpe_count(bpe, NULL, "the the the", 11, 0, &n, err,
                             sizeof(err));
        ok(rc == 0 && n == 4, "count()");
        st = infer_bpe_state_create(tpl);
        rc = infer_bpe_encode(bpe, st, "the", 3, 0, ids, 8, &n, err,
                              sizeof(err));
        ok(rc == -1 && strstr(err, "another tokenizer's") != NULL,
           "a state serves the tokenizer it was made for");
        infer_bpe_state_free(st);
        rc = infer_bpe_encode(bpe, NULL, "ab\xc3(", 4, 0, ids, 8, &n, err,
                              sizeof(err));
        ok(rc == -1 && strstr(err, "invalid UTF-8 at byte 2") != NULL,
           "invalid UTF-8 is -1 (%s)", err);
        rc = infer_bpe_encode(bpe, NULL, "\xed\xa0\x80", 3, 0, ids, 8, &n,
                              err, sizeof(err));
        ok(rc == -1, "a surrogate is invalid UTF-8");
        rc = infer_bpe_encode(bpe, NULL, "", 0, INFER_BPE_SPECIAL, ids, 8,
                              &n, err, sizeof(err));
        ok(rc == 0 && n == 0, "the empty text is no token");
        ok(infer_bpe_id(bpe, "<new>", 5) == NEW
           && infer_bpe_id(bpe, "\xc4\xa0the", 5) == G_THE
           && infer_bpe_id(bpe, "zz", 2) == -1
           && infer_bpe_type(bpe, IM_END) == INFER_BPE_CONTROL
           && infer_bpe_type(bpe, NEW) == INFER_BPE_USER_DEFINED
           && infer_bpe_type(bpe, A) == INFER_BPE_NORMAL
           && infer_bpe_type(bpe, N_IDS) == 0, "id() and type()");
    }

    infer_bpe_free(bpe);
    infer_bpe_free(tpl);
    infer_bpe_free(g);
}


static void
test_decode(void)
{
    int                  ok_all;
    char                 out[64], *whole, *joined, *lossy;
    size_t               n, i, k, bad;
    int32_t              ids[64];
    infer_bpe_t         *bpe;
    infer_bpe_stream_t   s;

    static const int32_t  some[] = { IM_START, 't', HE, SP, E_ACUTE, IM_END };

    bpe = t_load(T_BYTE_LEVEL, "", NULL);
    if (bpe == NULL) {
        ok(0, "decode: no tokenizer");
        return;
    }

    ok(infer_bpe_decode(bpe, some, 6, INFER_BPE_SPECIAL, out, sizeof(out),
                        &n, out, sizeof(out)) == 0 && n == 28
       && memcmp(out, "<|im_start|>the \xc3\xa9<|im_end|>", 28) == 0,
       "decode, the special tokens written");
    ok(infer_bpe_decode(bpe, some, 6, 0, out, sizeof(out), &n, out,
                        sizeof(out)) == 0 && n == 6
       && memcmp(out, "the \xc3\xa9", 6) == 0,
       "decode, the special tokens left out");
    ok(infer_bpe_decode(bpe, some, 6, INFER_BPE_SPECIAL, out, 10, &n, out,
                        sizeof(out)) == -1 && n == 28,
       "decode into too small a buffer: -1, and the room needed");
    ids[0] = N_IDS;
    ok(infer_bpe_decode(bpe, ids, 1, 0, out, sizeof(out), &n, out,
                        sizeof(out)) == -1, "decode of an id of no token");

    /* é as its two bytes: held, then whole */
    infer_bpe_stream_init(&s, 0);
    ok(infer_bpe_stream_push(bpe, &s, 0xc3, out, &n) == 0 && n == 0,
       "stream: the first byte of \xc3\xa9 is held");
    ok(infer_bpe_stream_push(bpe, &s, 0xa9, out, &n) == 0 && n == 2
       && memcmp(out, "\xc3\xa9", 2) == 0, "stream: the second completes it");
    ok(infer_bpe_stream_push(bpe, &s, 0xf0, out, &n) == 0 && n == 0
       && infer_bpe_stream_push(bpe, &s, 0x9f, out, &n) == 0 && n == 0
       && infer_bpe_stream_push(bpe, &s, A, out, &n) == 0 && n == 4
       && memcmp(out, "\xef\xbf\xbd" "a", 4) == 0,
       "stream: a character that never ends is one U+FFFD");
    ok(infer_bpe_stream_push(bpe, &s, 0xe4, out, &n) == 0 && n == 0,
       "stream: held at the end");
    infer_bpe_stream_flush(&s, out, &n);
    ok(n == 3 && memcmp(out, "\xef\xbf\xbd", 3) == 0,
       "stream: flush() writes what is held as U+FFFD");
    ok(infer_bpe_stream_push(bpe, &s, IM_END, out, &n) == 0 && n == 0
       && infer_bpe_stream_push(bpe, &s, -1, out, &n) == -1,
       "stream: a special token is nothing without INFER_BPE_SPECIAL; a bad "
       "id is -1");

    /* random ids, bytes mostly: every piece UTF-8, all of them the whole */
    whole = malloc(T_MAX_IDS);
    joined = malloc(T_MAX_IDS);
    lossy = malloc(3 * T_MAX_IDS);
    if (whole == NULL || joined == NULL || lossy == NULL) {
        exit(2);
    }

    bad = 0;

    for (i = 0; i < 2000; i++) {
        n = 1 + rnd() % 40;

        for (k = 0; k < n; k++) {
            ids[k] = (int32_t) (rnd() % 8 == 0
                                ? 256 + rnd() % (N_IDS - 256)
                                : rnd() % 4 == 0
                                ? rnd() % 256
                                : 0x80 + rnd() % 0x78);
        }

        ok_all = t_stream(bpe, ids, n, i & 1 ? INFER_BPE_SPECIAL : 0, whole,
                          joined, lossy);
        bad += !ok_all;
    }

    ok(bad == 0, "stream: 2000 random id sequences, each piece UTF-8, the "
       "pieces the whole decoded with U+FFFD (%zu wrong)", bad);

    free(whole);
    free(joined);
    free(lossy);
    infer_bpe_free(bpe);
}


/* --- load errors ----------------------------------------------------------- */

static void
t_load_err(const char *what, const char *json, const char *want)
{
    char          err[INFER_ERRLEN];
    infer_bpe_t  *bpe;

    err[0] = '\0';
    bpe = infer_bpe_load_buffer(json, strlen(json), "tok.json", err,
                                sizeof(err));

    if (bpe != NULL || strstr(err, want) == NULL
        || strncmp(err, "tok.json: ", 10) != 0)
    {
        printf("# error \"%s\", wanted \"%s\"\n", err, want);
    }

    ok(bpe == NULL && strstr(err, want) != NULL
       && strncmp(err, "tok.json: ", 10) == 0, "load error: %s", what);

    infer_bpe_free(bpe);
}


/* j with one substring replaced, in new memory */
static char *
t_replace(const char *j, const char *from, const char *to)
{
    char        *out;
    size_t       n;
    const char  *p;

    p = strstr(j, from);
    if (p == NULL) {
        printf("# t_replace: no \"%s\"\n", from);
        p = j + strlen(j);
        from = "";
    }

    n = strlen(j) - strlen(from) + strlen(to) + 1;
    out = malloc(n);
    if (out == NULL) {
        exit(2);
    }

    snprintf(out, n, "%.*s%s%s", (int) (p - j), j, to, p + strlen(from));

    return out;
}


/* the small file with one substring replaced */
static char *
t_edit(const char *pre, const char *from, const char *to)
{
    char  *j, *out;

    j = t_json(pre, "", NULL);
    out = t_replace(j, from, to);
    free(j);

    return out;
}


static void
test_load_errors(void)
{
    char         *j;
    size_t        i;

    static const struct {
        const char  *what, *pre, *from, *to, *want;
    } cases[] = {
        { "another model", T_BYTE_LEVEL, "\"BPE\"", "\"WordPiece\"",
          "model.type: \"WordPiece\" is not supported" },
        { "a normalizer", T_BYTE_LEVEL, "\"normalizer\": null",
          "\"normalizer\": {\"type\": \"NFC\"}",
          "normalizer: type \"NFC\" is not supported" },
        { "another pre-tokenizer", T_BYTE_LEVEL, "\"ByteLevel\", \"add_",
          "\"Metaspace\", \"add_", "pre_tokenizer.type: \"Metaspace\"" },
        { "add_prefix_space", T_BYTE_LEVEL, "\"add_prefix_space\": false",
          "\"add_prefix_space\": true",
          "pre_tokenizer.add_prefix_space: true is not supported" },
        { "Oniguruma's \\w", T_SPLIT("\\\\w+"), "", "",
          "\\w at offset 0 is not supported" },
        { "a line anchor", T_SPLIT("^a"), "", "", "^ at offset 0" },
        { "Oniguruma's (?m)", T_SPLIT("(?m:a.)"), "", "",
          "a group's flag other than i" },
        { "\\S in a class", T_SPLIT("[\\\\Sa]"), "", "", "\\S in a class" },
        { "a nested class", T_SPLIT("[a[b]]"), "", "", "[ in a class" },
        { "an expression that matches nothing too", T_SPLIT("\\\\s*"), "",
          "", "can match the empty string" },
        { "PCRE2's complaint", T_SPLIT("(a"), "", "",
          "pre_tokenizer.pretokenizers[0].pattern: \"(a\": missing closing" },
        { "a Split behavior", T_SPLIT("a"), "\"Isolated\"",
          "\"MergedWithPrevious\"", "behavior: \"MergedWithPrevious\"" },
        { "invert", T_SPLIT("a"), "\"invert\": false", "\"invert\": true",
          "invert: true is not supported" },
        { "ByteLevel not last", T_SPLIT("a"), "{\"type\": \"Split\"",
          T_BYTE_LEVEL ", {\"type\": \"Split\"", "not the last step" },
        { "a merge of no token", T_BYTE_LEVEL, "\"h e\"", "\"h zz\"",
          "model.merges[1]: \"zz\" is not in the vocabulary" },
        { "a merge that makes no token", T_BYTE_LEVEL, "\"h e\"", "\"h f\"",
          "what it makes, \"hf\", is not in the vocabulary" },
        { "a pair merged twice", T_BYTE_LEVEL, "\"a b\"", "\"b c\"",
          "the pair is merged twice" },
        { "a merge not of two", T_BYTE_LEVEL, "\"a b\"", "\"a b c\"",
          "is not two tokens and a space" },
        { "an added token with another id", T_BYTE_LEVEL, "\"id\": 268",
          "\"id\": 100", "but model.vocab gives \"<new>\" the id 268" },
        { "an added token with lstrip", T_BYTE_LEVEL, "\"lstrip\": false",
          "\"lstrip\": true", "added_tokens[0].lstrip: true is not" },
        { "no decoder", T_BYTE_LEVEL, "\"decoder\": {", "\"decoder\": null, "
          "\"x\": {", "x: unknown key" },
        { "another decoder", T_BYTE_LEVEL, "\"ByteLevel\", \"add_prefix_space"
          "\": true, \"trim", "\"Metaspace\", \"add_prefix_space\": true, "
          "\"trim", "decoder.type: \"Metaspace\" is not supported" },
        { "truncation", T_BYTE_LEVEL, "\"truncation\": null",
          "\"truncation\": {}", "truncation: not null" },
        { "dropout", T_BYTE_LEVEL, "\"dropout\": null", "\"dropout\": 0.1",
          "model.dropout: not null" },
        { "a subword prefix", T_BYTE_LEVEL,
          "\"continuing_subword_prefix\": null",
          "\"continuing_subword_prefix\": \"##\"",
          "model.continuing_subword_prefix: not null" },
        { "a model key it does not know", T_BYTE_LEVEL, "\"dropout\"",
          "\"x\": 1, \"dropout\"", "model.x: unknown key" },
        { "not JSON", T_BYTE_LEVEL, "\"version\": \"1.0\",", "\"version\": ",
          "line 1, column" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = t_edit(cases[i].pre, cases[i].from, cases[i].to);
        t_load_err(cases[i].what, j, cases[i].want);
        free(j);
    }
}


static void
t_gguf_err(const char *what, infer_bpe_gguf_t *g, const char *want)
{
    char          err[INFER_ERRLEN];
    infer_bpe_t  *bpe;

    err[0] = '\0';
    bpe = infer_bpe_load_gguf(g, "m.gguf", err, sizeof(err));

    if (bpe != NULL || strstr(err, want) == NULL) {
        printf("# error \"%s\", wanted \"%s\"\n", err, want);
    }

    ok(bpe == NULL && strstr(err, want) != NULL
       && strncmp(err, "m.gguf: ", 8) == 0, "GGUF load error: %s", what);

    infer_bpe_free(bpe);
}


static void
test_gguf_errors(void)
{
    char              bytes[256][4];
    size_t            i;
    int32_t           types[258];
    infer_bpe_str_t   tokens[258], merges[2];
    infer_bpe_gguf_t  g, e;

    memset(&g, 0, sizeof(g));

    for (i = 0; i < 256; i++) {
        tokens[i].len = t_byte_char((unsigned) i, bytes[i]);
        tokens[i].data = bytes[i];
        types[i] = INFER_BPE_NORMAL;
    }

    tokens[256].data = "ab";
    tokens[256].len = 2;
    tokens[257].data = "<s>";
    tokens[257].len = 3;
    types[256] = INFER_BPE_NORMAL;
    types[257] = INFER_BPE_CONTROL;
    merges[0].data = "a b";
    merges[0].len = 3;

    g.model.data = "gpt2";
    g.model.len = 4;
    g.pre.data = "gpt2";
    g.pre.len = 4;
    g.tokens = tokens;
    g.n_tokens = 258;
    g.merges = merges;
    g.n_merges = 1;
    g.token_types = types;
    g.bos_id = g.eos_id = g.eot_id = g.unk_id = g.pad_id = -1;
    g.add_bos = g.add_eos = -1;

    e = g;
    e.model.data = "llama";
    e.model.len = 5;
    t_gguf_err("a SentencePiece model", &e, "tokenizer.ggml.model: \"llama\" "
               "is not supported");
    e = g;
    e.pre.data = "qwen2";
    e.pre.len = 5;
    t_gguf_err("a pre-tokenizer it does not know", &e,
               "tokenizer.ggml.pre: \"qwen2\" is not supported");
    e = g;
    e.pre.data = NULL;
    e.pre.len = 0;
    t_gguf_err("no pre-tokenizer", &e, "tokenizer.ggml.pre: missing");
    e = g;
    e.bos_id = 258;
    t_gguf_err("a bos_token_id past the tokens", &e,
               "tokenizer.ggml.bos_token_id: 258 is not a token");
    e = g;
    e.add_bos = 1;
    t_gguf_err("add_bos_token without bos_token_id", &e, "add_bos_token: "
               "true, but no bos_token_id");

    merges[1].data = "ab";
    merges[1].len = 2;
    e = g;
    e.merges = merges + 1;
    t_gguf_err("a merge without a space", &e, "tokenizer.ggml.merges[0]: "
               "\"ab\" is not two tokens and a space");

    types[100] = INFER_BPE_BYTE;
    t_gguf_err("a byte token", &g, "tokenizer.ggml.token_type[100]: 6");
    types[100] = INFER_BPE_NORMAL;

    tokens[256].data = "a";
    tokens[256].len = 1;
    t_gguf_err("a token twice", &g, "tokenizer.ggml.tokens[256]: \"a\" is "
               "the id 97 already");
    tokens[256].len = 0;
    t_gguf_err("an empty token", &g, "tokenizer.ggml.tokens[256]: an empty "
               "token");
    tokens[256].data = "\xff";
    tokens[256].len = 1;
    t_gguf_err("a token that is not UTF-8", &g, "not UTF-8");
}


int
main(int argc, char **argv)
{
    char         dir[400];
    const char  *env;

    if (argc > 1) {
        snprintf(dir, sizeof(dir), "%s", argv[1]);

    } else {
        env = getenv("TEST_NGINX_FIXTURES");
        snprintf(dir, sizeof(dir), "%s/bpe", env ? env : "t/fixtures");
    }

    test_merges();
    test_special();
    test_decode();
    test_load_errors();
    test_gguf_errors();
    test_parity(dir);

    return done();
}
