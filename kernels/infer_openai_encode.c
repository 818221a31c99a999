/*
 * ngx_infer: what writes OpenAI answers (infer_openai.h): embeddings,
 * errors, the model list.  Every writer has its room computed beforehand
 * by its _size() function, so that the caller allocates once; the floats
 * go through infer_json_write_float(), the strings through
 * infer_json_write_string().
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "infer_openai.h"


/* floats to base64 at a time: 192 bytes, a multiple of 3, so no padding */
#define INFER_OAI_B64_FLOATS  48

/*
 * The room of what surrounds the values: an embedding's object with its
 * index of up to 20 digits and a comma (65 bytes), the list with the
 * model's quotes and two counts of up to 20 digits (121 bytes), a model's
 * object with its quotes, a "created" of up to 20 bytes and a comma (83
 * bytes).
 */
#define INFER_OAI_EMB_ROOM    72
#define INFER_OAI_LIST_ROOM   160
#define INFER_OAI_MODEL_ROOM  96

/* a float's shortest decimal: 16 bytes of room, and a comma */
#define INFER_OAI_FLOAT_ROOM  17


/* a literal copied, the position after it */
#define infer_oai_cpy(p, s)                                                   \
    (memcpy(p, s, sizeof(s) - 1), (p) + sizeof(s) - 1)


static char *infer_oai_floats(char *p, const float *v, size_t n,
    double norm);
static char *infer_oai_base64(char *p, const float *v, size_t n,
    double norm);
static char *infer_oai_b64(char *p, const unsigned char *s, size_t len);
static char *infer_oai_string_or_null(char *p, const char *s);


size_t
infer_oai_embeddings_size(size_t n, size_t dims, int base64,
    size_t model_len)
{
    size_t  vec, per, fixed;

    if (dims > SIZE_MAX / 64 || model_len > SIZE_MAX / 64) {
        return SIZE_MAX;
    }

    /* base64 of dims * 4 bytes, or the decimals; the quotes or brackets */
    vec = base64 ? (dims * 4 + 2) / 3 * 4 + 2
                 : dims * INFER_OAI_FLOAT_ROOM + 2;

    per = vec + INFER_OAI_EMB_ROOM;
    fixed = 6 * model_len + INFER_OAI_LIST_ROOM;

    if (n > (SIZE_MAX - fixed) / per) {
        return SIZE_MAX;
    }

    return n * per + fixed;
}


size_t
infer_oai_write_embeddings(char *dst, const char *model, size_t model_len,
    const float *emb, size_t n, size_t stride, size_t dims, int renorm,
    int base64, uint64_t prompt_tokens)
{
    char         *p;
    double        sum, norm;
    size_t        i, j;
    const float  *row;

    p = infer_oai_cpy(dst, "{\"object\":\"list\",\"data\":[");

    for (i = 0; i < n; i++) {
        row = emb + i * stride;

        if (i > 0) {
            *p++ = ',';
        }

        p += sprintf(p, "{\"object\":\"embedding\",\"index\":%zu,"
                     "\"embedding\":", i);

        /*
         * norm 0: the values as the model gave them, bit for bit; a zero
         * or non-finite vector has no direction to keep, and is left so
         */
        norm = 0.0;

        if (renorm) {
            sum = 0.0;

            for (j = 0; j < dims; j++) {
                sum += (double) row[j] * row[j];
            }

            if (sum > 0.0 && isfinite(sum)) {
                norm = sqrt(sum);
            }
        }

        p = base64 ? infer_oai_base64(p, row, dims, norm)
                   : infer_oai_floats(p, row, dims, norm);

        *p++ = '}';
    }

    p = infer_oai_cpy(p, "],\"model\":");
    p += infer_json_write_string(p, model, model_len);

    /* an embedding has no completion: all the tokens are the prompt's */
    p += sprintf(p, ",\"usage\":{\"prompt_tokens\":%llu,"
                 "\"total_tokens\":%llu}}",
                 (unsigned long long) prompt_tokens,
                 (unsigned long long) prompt_tokens);

    return p - dst;
}


static char *
infer_oai_floats(char *p, const float *v, size_t n, double norm)
{
    size_t  j;

    *p++ = '[';

    for (j = 0; j < n; j++) {
        if (j > 0) {
            *p++ = ',';
        }

        p += infer_json_write_float(p, (norm > 0.0) ? (float) (v[j] / norm)
                                                    : v[j]);
    }

    *p++ = ']';

    return p;
}


/*
 * What OpenAI sends for encoding_format "base64", and the openai clients
 * decode with numpy.frombuffer(..., dtype="float32"): the floats' bytes,
 * little-endian whatever the host's order.
 */

static char *
infer_oai_base64(char *p, const float *v, size_t n, double norm)
{
    float          f;
    size_t         j, k, i;
    uint32_t       bits;
    unsigned char  buf[INFER_OAI_B64_FLOATS * 4];

    *p++ = '"';

    for (j = 0; j < n; j += k) {
        k = n - j;

        if (k > INFER_OAI_B64_FLOATS) {
            k = INFER_OAI_B64_FLOATS;
        }

        for (i = 0; i < k; i++) {
            f = (norm > 0.0) ? (float) (v[j + i] / norm) : v[j + i];
            memcpy(&bits, &f, sizeof(float));

            buf[4 * i] = (unsigned char) bits;
            buf[4 * i + 1] = (unsigned char) (bits >> 8);
            buf[4 * i + 2] = (unsigned char) (bits >> 16);
            buf[4 * i + 3] = (unsigned char) (bits >> 24);
        }

        p = infer_oai_b64(p, buf, 4 * k);
    }

    *p++ = '"';

    return p;
}


/* standard base64 (RFC 4648, section 4) with its padding */

static char *
infer_oai_b64(char *p, const unsigned char *s, size_t len)
{
    uint32_t              w;
    const unsigned char  *end;

    static const char  b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    end = s + len;

    for ( /* void */ ; end - s >= 3; s += 3) {
        w = ((uint32_t) s[0] << 16) | ((uint32_t) s[1] << 8) | s[2];

        *p++ = b64[w >> 18];
        *p++ = b64[(w >> 12) & 0x3f];
        *p++ = b64[(w >> 6) & 0x3f];
        *p++ = b64[w & 0x3f];
    }

    if (s == end) {
        return p;
    }

    w = (uint32_t) s[0] << 16;

    if (end - s == 2) {
        w |= (uint32_t) s[1] << 8;
    }

    *p++ = b64[w >> 18];
    *p++ = b64[(w >> 12) & 0x3f];
    *p++ = (end - s == 2) ? b64[(w >> 6) & 0x3f] : '=';
    *p++ = '=';

    return p;
}


size_t
infer_oai_error_size(const char *msg, const char *type, const char *param,
    const char *code)
{
    size_t  len;

    len = (msg ? strlen(msg) : 0) + (type ? strlen(type) : 0)
          + (param ? strlen(param) : 0) + (code ? strlen(code) : 0);

    return 6 * len + 64;
}


size_t
infer_oai_write_error(char *dst, const char *msg, const char *type,
    const char *param, const char *code)
{
    char  *p;

    p = infer_oai_cpy(dst, "{\"error\":{\"message\":");
    p += infer_json_write_string(p, msg ? msg : "", msg ? strlen(msg) : 0);

    p = infer_oai_cpy(p, ",\"type\":");
    p = infer_oai_string_or_null(p, type);

    p = infer_oai_cpy(p, ",\"param\":");
    p = infer_oai_string_or_null(p, param);

    p = infer_oai_cpy(p, ",\"code\":");
    p = infer_oai_string_or_null(p, code);

    p = infer_oai_cpy(p, "}}");

    return p - dst;
}


static char *
infer_oai_string_or_null(char *p, const char *s)
{
    if (s == NULL) {
        return infer_oai_cpy(p, "null");
    }

    return p + infer_json_write_string(p, s, strlen(s));
}


size_t
infer_oai_models_size(const infer_json_str_t *names, size_t n)
{
    size_t  i, size;

    size = INFER_OAI_MODEL_ROOM;

    for (i = 0; i < n; i++) {
        size += 6 * names[i].len + INFER_OAI_MODEL_ROOM;
    }

    return size;
}


size_t
infer_oai_write_models(char *dst, const infer_json_str_t *names, size_t n,
    int64_t created)
{
    char    *p;
    size_t   i;

    p = infer_oai_cpy(dst, "{\"object\":\"list\",\"data\":[");

    for (i = 0; i < n; i++) {
        if (i > 0) {
            *p++ = ',';
        }

        p += infer_oai_write_model(p, names[i].p, names[i].len, created);
    }

    p = infer_oai_cpy(p, "]}");

    return p - dst;
}


/* every model is "owned" by the server that serves it, as vLLM has it */

size_t
infer_oai_write_model(char *dst, const char *name, size_t len,
    int64_t created)
{
    char  *p;

    p = infer_oai_cpy(dst, "{\"id\":");
    p += infer_json_write_string(p, name, len);
    p += sprintf(p, ",\"object\":\"model\",\"created\":%lld,"
                 "\"owned_by\":\"ngx_infer\"}", (long long) created);

    return p - dst;
}
