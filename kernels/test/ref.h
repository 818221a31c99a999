/*
 * ngx_infer: float64 references for the kernels' unit tests, written
 * apart from the code under test (libm in double, plain loops): the
 * activations, and the forward pass of an "mlp" model computed from its
 * weights' F32 form (m->weights[].f32) and its layers (infer_mlp_t).
 * Included by tt.h, so by every program that includes it.
 */

#ifndef _INFER_TEST_REF_H_INCLUDED_
#define _INFER_TEST_REF_H_INCLUDED_


#include <math.h>
#include <stdlib.h>

#include "infer_model.h"
#include "infer_mlp.h"


/* a program uses some of these, not all */
#define TT_UNUSED  __attribute__((unused))


/* an INFER_ACT_* in double, by its definition */
static TT_UNUSED double
ref_act(int act, double x)
{
    switch (act) {
    case INFER_ACT_RELU:
        return x < 0.0 ? 0.0 : x;
    case INFER_ACT_GELU:
        /* 0.5 x (1 + erf(x / sqrt 2)) without 1 + erf's cancellation */
        return 0.5 * x * erfc(-x / sqrt(2.0));
    case INFER_ACT_TANH:
        return tanh(x);
    case INFER_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case INFER_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI)
                                     * (x + 0.044715 * x * x * x)));
    case INFER_ACT_SILU:
        return x / (1.0 + exp(-x));
    default:
        return x;
    }
}


/*
 * out = the model's output for rows rows of in, in double, rounded to
 * float at the end only.  m must be an "mlp"; NaN rows make a failure to
 * allocate (or another architecture) visible.
 */
static TT_UNUSED void
ref_mlp_forward(const infer_model_t *m, const float *in, int rows,
    float *out)
{
    int                       r, i, o, k, n, width;
    double                   *x, *y, *t, acc, max, sum;
    const float              *w, *b;
    const infer_mlp_t        *mlp;
    const infer_mlp_layer_t  *l;

    n = (int) m->output.size;
    mlp = (m->arch == &infer_arch_mlp) ? m->arch_data : NULL;

    width = (int) m->input.size;
    for (k = 0; mlp != NULL && k < mlp->nlayers; k++) {
        width = mlp->layers[k].out > width ? mlp->layers[k].out : width;
    }

    x = malloc(2 * (size_t) width * sizeof(double));

    if (mlp == NULL || x == NULL) {
        for (i = 0; i < rows * n; i++) {
            out[i] = NAN;
        }
        free(x);
        return;
    }

    y = x + width;

    for (r = 0; r < rows; r++) {
        for (i = 0; i < m->input.size; i++) {
            x[i] = in[(size_t) r * m->input.size + i];
        }

        for (k = 0; k < mlp->nlayers; k++) {
            l = &mlp->layers[k];
            b = l->b >= 0 ? m->weights[l->b].f32 : NULL;

            for (o = 0; o < l->out; o++) {
                w = m->weights[l->w].f32 + (size_t) o * l->in;
                acc = b ? b[o] : 0.0;

                for (i = 0; i < l->in; i++) {
                    acc += (double) w[i] * x[i];
                }

                y[o] = ref_act(l->act, acc);
            }

            t = x;
            x = y;
            y = t;
        }

        if (mlp->softmax) {
            max = x[0];
            for (i = 1; i < n; i++) {
                max = x[i] > max ? x[i] : max;
            }

            sum = 0.0;
            for (i = 0; i < n; i++) {
                x[i] = exp(x[i] - max);
                sum += x[i];
            }

            for (i = 0; i < n; i++) {
                x[i] /= sum;
            }
        }

        for (i = 0; i < n; i++) {
            out[(size_t) r * n + i] = (float) x[i];
        }
    }

    /* x and y swap: free whichever is the block's start */
    free(x < y ? x : y);
}


#endif /* _INFER_TEST_REF_H_INCLUDED_ */
