/*
 * ngx_infer: what writes KServe v2 answers (infer_kserve.h): the JSON
 * header of a binary answer.  The JSON answers are written by the module
 * with the JSON writers, infer_json_write_float() and
 * infer_json_write_string().
 */

#include <stdio.h>
#include <string.h>

#include "infer_kserve.h"


size_t
infer_ks_write_binary_header(char *dst, const char *model_name,
    size_t model_len, const char *id, size_t id_len, const char *output_name,
    size_t rows, size_t cols)
{
    char  *p;

    p = dst;

    memcpy(p, "{\"model_name\":", sizeof("{\"model_name\":") - 1);
    p += sizeof("{\"model_name\":") - 1;
    p += infer_json_write_string(p, model_name, model_len);

    memcpy(p, ",\"model_version\":\"1\"",
           sizeof(",\"model_version\":\"1\"") - 1);
    p += sizeof(",\"model_version\":\"1\"") - 1;

    if (id != NULL && id_len != 0) {
        memcpy(p, ",\"id\":", sizeof(",\"id\":") - 1);
        p += sizeof(",\"id\":") - 1;
        memcpy(p, id, id_len);
        p += id_len;
    }

    memcpy(p, ",\"outputs\":[{\"name\":",
           sizeof(",\"outputs\":[{\"name\":") - 1);
    p += sizeof(",\"outputs\":[{\"name\":") - 1;
    p += infer_json_write_string(p, output_name, strlen(output_name));

    /* at most 129 bytes with its NUL: the room asked for has 256 */
    p += sprintf(p, ",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],"
                 "\"parameters\":{\"binary_data_size\":%llu}}]}", rows, cols,
                 (unsigned long long) rows * cols * sizeof(float));

    return p - dst;
}
