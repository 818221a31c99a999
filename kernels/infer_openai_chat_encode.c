/*
 * ngx_infer: the answers of /v1/chat/completions and /v1/completions
 * (infer_openai_chat.h).  The keys come in OpenAI's order, so that an
 * answer reads as OpenAI's does; every writer has its room computed
 * beforehand by its _size() function, so that the caller allocates once.
 */

#include <stdio.h>
#include <string.h>

#include "infer_openai_chat.h"


/*
 * The room of what surrounds the text: the longest object, a usage chunk
 * or a chunk with role, content, finish_reason and "usage":null, is 230
 * bytes of keys and punctuation, 20 of "created" and 3 counts of 20.
 */
#define INFER_OAI_GEN_ROOM  320


/* a literal copied, the position after it */
#define infer_oai_cpy(p, s)                                                   \
    (memcpy(p, s, sizeof(s) - 1), (p) + sizeof(s) - 1)


static char *infer_oai_head(char *p, const infer_oai_gen_t *g,
    const char *prefix, size_t prefix_len, const char *object);
static char *infer_oai_text(char *p, const char *s, size_t len);
static char *infer_oai_escape(char *p, const char *s, size_t len);
static char *infer_oai_finish(char *p, infer_oai_finish_e finish);
static char *infer_oai_usage(char *p, uint64_t prompt_tokens,
    uint64_t completion_tokens);
static size_t infer_oai_room(const infer_oai_gen_t *g, size_t len);


size_t
infer_oai_chat_size(const infer_oai_gen_t *g, size_t len)
{
    return infer_oai_room(g, len);
}


size_t
infer_oai_write_chat(char *dst, const infer_oai_gen_t *g,
    const char *content, size_t len, infer_oai_finish_e finish,
    uint64_t prompt_tokens, uint64_t completion_tokens)
{
    char  *p;

    p = infer_oai_head(dst, g, "chatcmpl-", 9, "chat.completion");
    p = infer_oai_cpy(p, ",\"choices\":[{\"index\":0,\"message\":"
                      "{\"role\":\"assistant\",\"content\":");
    p = infer_oai_text(p, content, len);
    p = infer_oai_cpy(p, "},\"logprobs\":null,\"finish_reason\":");
    p = infer_oai_finish(p, finish);
    p = infer_oai_cpy(p, "}],");
    p = infer_oai_usage(p, prompt_tokens, completion_tokens);
    *p++ = '}';

    return p - dst;
}


size_t
infer_oai_chat_chunk_size(const infer_oai_gen_t *g, size_t len)
{
    return infer_oai_room(g, len);
}


size_t
infer_oai_write_chat_chunk(char *dst, const infer_oai_gen_t *g, int role,
    const char *content, size_t len, infer_oai_finish_e finish)
{
    char  *p;

    p = infer_oai_cpy(dst, "data: ");
    p = infer_oai_head(p, g, "chatcmpl-", 9, "chat.completion.chunk");
    p = infer_oai_cpy(p, ",\"choices\":[{\"index\":0,\"delta\":{");

    if (role) {
        p = infer_oai_cpy(p, "\"role\":\"assistant\"");
    }

    if (content != NULL) {
        if (role) {
            *p++ = ',';
        }

        p = infer_oai_cpy(p, "\"content\":");
        p = infer_oai_text(p, content, len);
    }

    p = infer_oai_cpy(p, "},\"logprobs\":null,\"finish_reason\":");
    p = infer_oai_finish(p, finish);
    p = infer_oai_cpy(p, "}]");

    if (g->include_usage) {
        p = infer_oai_cpy(p, ",\"usage\":null");
    }

    p = infer_oai_cpy(p, "}\n\n");

    return p - dst;
}


size_t
infer_oai_completion_size(const infer_oai_gen_t *g, size_t len)
{
    return infer_oai_room(g, len);
}


size_t
infer_oai_write_completion(char *dst, const infer_oai_gen_t *g,
    const char *text, size_t len, infer_oai_finish_e finish,
    uint64_t prompt_tokens, uint64_t completion_tokens)
{
    char  *p;

    p = infer_oai_head(dst, g, "cmpl-", 5, "text_completion");
    p = infer_oai_cpy(p, ",\"choices\":[{\"text\":");
    p = infer_oai_text(p, text, len);
    p = infer_oai_cpy(p, ",\"index\":0,\"logprobs\":null,"
                      "\"finish_reason\":");
    p = infer_oai_finish(p, finish);
    p = infer_oai_cpy(p, "}],");
    p = infer_oai_usage(p, prompt_tokens, completion_tokens);
    *p++ = '}';

    return p - dst;
}


size_t
infer_oai_completion_chunk_size(const infer_oai_gen_t *g, size_t len)
{
    return infer_oai_room(g, len);
}


size_t
infer_oai_write_completion_chunk(char *dst, const infer_oai_gen_t *g,
    const char *text, size_t len, infer_oai_finish_e finish)
{
    char  *p;

    p = infer_oai_cpy(dst, "data: ");
    p = infer_oai_head(p, g, "cmpl-", 5, "text_completion");
    p = infer_oai_cpy(p, ",\"choices\":[{\"text\":");
    p = infer_oai_text(p, text, len);
    p = infer_oai_cpy(p, ",\"index\":0,\"logprobs\":null,"
                      "\"finish_reason\":");
    p = infer_oai_finish(p, finish);
    p = infer_oai_cpy(p, "}]");

    if (g->include_usage) {
        p = infer_oai_cpy(p, ",\"usage\":null");
    }

    p = infer_oai_cpy(p, "}\n\n");

    return p - dst;
}


size_t
infer_oai_usage_chunk_size(const infer_oai_gen_t *g)
{
    return infer_oai_room(g, 0);
}


size_t
infer_oai_write_usage_chunk(char *dst, const infer_oai_gen_t *g, int chat,
    uint64_t prompt_tokens, uint64_t completion_tokens)
{
    char  *p;

    p = infer_oai_cpy(dst, "data: ");
    p = chat ? infer_oai_head(p, g, "chatcmpl-", 9, "chat.completion.chunk")
             : infer_oai_head(p, g, "cmpl-", 5, "text_completion");
    p = infer_oai_cpy(p, ",\"choices\":[],");
    p = infer_oai_usage(p, prompt_tokens, completion_tokens);
    p = infer_oai_cpy(p, "}\n\n");

    return p - dst;
}


size_t
infer_oai_write_error_event(char *dst, const char *msg, const char *type,
    const char *param, const char *code)
{
    char  *p;

    p = infer_oai_cpy(dst, "data: ");
    p += infer_oai_write_error(p, msg, type, param, code);
    p = infer_oai_cpy(p, "\n\n");

    return p - dst;
}


size_t
infer_oai_utf8_whole(const char *p, size_t len)
{
    size_t                k, need;
    const unsigned char  *s;

    s = (const unsigned char *) p;

    /* the lead byte of the last sequence, if it is among the last 4 */
    for (k = 1; k <= 4 && k <= len; k++) {
        if ((s[len - k] & 0xc0) != 0x80) {
            break;
        }
    }

    if (k > 4 || k > len || s[len - k] < 0xc0 || s[len - k] >= 0xf8) {
        return len;
    }

    need = (s[len - k] >= 0xf0) ? 4 : (s[len - k] >= 0xe0) ? 3 : 2;

    /*
     * A short sequence waits for its next bytes; if they do not complete
     * it, it is sent as U+FFFD with them
     */
    return (k < need) ? len - k : len;
}


/* {"id":"<prefix><id>","object":"<object>","created":<t>,"model":"<m>" */

static char *
infer_oai_head(char *p, const infer_oai_gen_t *g, const char *prefix,
    size_t prefix_len, const char *object)
{
    p = infer_oai_cpy(p, "{\"id\":\"");
    memcpy(p, prefix, prefix_len);
    p = infer_oai_escape(p + prefix_len, g->id, g->id_len);
    p += sprintf(p, "\",\"object\":\"%s\",\"created\":%lld,\"model\":\"",
                 object, (long long) g->created);
    p = infer_oai_escape(p, g->model, g->model_len);
    *p++ = '"';

    return p;
}


static char *
infer_oai_text(char *p, const char *s, size_t len)
{
    *p++ = '"';
    p = infer_oai_escape(p, s, len);
    *p++ = '"';

    return p;
}


/*
 * The contents of a JSON string: Python's json.dumps() escapes, as
 * infer_json_write_string() has them, and U+FFFD for a byte that begins
 * no valid UTF-8 sequence.  At most 6 bytes for each byte.
 */

static char *
infer_oai_escape(char *p, const char *s, size_t len)
{
    size_t                n;
    unsigned char         c;
    const unsigned char  *q, *end;

    static const char     hex[] = "0123456789abcdef";

    q = (const unsigned char *) s;
    end = q + len;

    while (q < end) {
        c = *q;

        if (c >= 0x80) {
            n = infer_json_utf8(q, end);

            if (n == 0) {
                p = infer_oai_cpy(p, "\\ufffd");
                q++;
                continue;
            }

            memcpy(p, q, n);
            p += n;
            q += n;
            continue;
        }

        q++;

        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char) c;
            continue;
        }

        *p++ = '\\';

        switch (c) {
        case '"':  *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        }
    }

    return p;
}


static char *
infer_oai_finish(char *p, infer_oai_finish_e finish)
{
    switch (finish) {

    case INFER_OAI_FINISH_STOP:
        return infer_oai_cpy(p, "\"stop\"");

    case INFER_OAI_FINISH_LENGTH:
        return infer_oai_cpy(p, "\"length\"");

    default:
        return infer_oai_cpy(p, "null");
    }
}


static char *
infer_oai_usage(char *p, uint64_t prompt_tokens, uint64_t completion_tokens)
{
    return p + sprintf(p, "\"usage\":{\"prompt_tokens\":%llu,"
                       "\"completion_tokens\":%llu,\"total_tokens\":%llu}",
                       (unsigned long long) prompt_tokens,
                       (unsigned long long) completion_tokens,
                       (unsigned long long) (prompt_tokens
                                             + completion_tokens));
}


/* SIZE_MAX where the room does not fit in a size_t */

static size_t
infer_oai_room(const infer_oai_gen_t *g, size_t len)
{
    if (len > SIZE_MAX / 8 || g->id_len > SIZE_MAX / 8
        || g->model_len > SIZE_MAX / 8)
    {
        return SIZE_MAX;
    }

    return 6 * (len + g->id_len + g->model_len) + INFER_OAI_GEN_ROOM;
}
