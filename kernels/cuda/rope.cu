/*
 * ngx_infer CUDA backend: rotary embeddings, see rope.cuh.
 *
 * A thread per output value, walking the rows as binary.cu does: it
 * reads its own value and its partner's and writes its own, so nothing
 * is shared.
 *
 * The angle is the CPU's to the bit.  infer_rope_angle() is pos x
 * theta^(-2i / n_rot) in float, and powf() differs between libm and
 * CUDA by a few ulp, which at position 10^5 turns a pair by 10^-2; so
 * the frequencies are computed here, on the host, by infer_rope_angle()
 * at position 1 (a product by 1 is exact), and travel with the launch:
 * the device's pos x freq is the same single float product as the CPU's.
 * Then sincosf() at full precision (no fast math in this build).
 */

#include <math.h>

#include "rope.cuh"

extern "C" {
#include "infer_ops.h"
}


typedef struct {
    float  freq[INFER_CUDA_ROPE_MAX_ROT / 2];
} infer_cuda_rope_freq_t;


template <int MODE>
static __global__ void
infer_cuda_rope_kernel(float *y, const float *x, int64_t ldx,
    const int32_t *pos, int64_t ld_pos, int rows, int heads, int head_dim,
    int n_rot, const infer_cuda_rope_freq_t f)
{
    int           c, d, r, i, half, partner, first;
    float         s, co, v;
    const float  *xr;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= heads * head_dim) {
        return;
    }

    d = c % head_dim;
    half = n_rot / 2;

    if (MODE == INFER_ROPE_NORM) {
        i = d / 2;
        first = (d & 1) == 0;
        partner = first ? c + 1 : c - 1;

    } else {
        first = d < half;
        i = first ? d : d - half;
        partner = first ? c + half : c - half;
    }

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        xr = x + r * ldx;

        if (d >= n_rot) {
            v = xr[c];

        } else {
            sincosf((float) pos[r * ld_pos] * f.freq[i], &s, &co);

            v = first ? xr[c] * co - xr[partner] * s
                      : xr[partner] * s + xr[c] * co;
        }

        y[(size_t) r * heads * head_dim + c] = v;
    }
}


cudaError_t
infer_cuda_rope(float *y, const float *x, int64_t ldx, const int32_t *pos,
    int64_t ld_pos, int rows, int heads, int head_dim, int n_rot, int mode,
    float theta, cudaStream_t stream)
{
    int                     i;
    dim3                    grid, block;
    infer_cuda_rope_freq_t  f;

    if (rows <= 0 || heads <= 0 || head_dim <= 0) {
        return cudaSuccess;
    }

    if (n_rot < 2 || n_rot > INFER_CUDA_ROPE_MAX_ROT || n_rot > head_dim) {
        return cudaErrorInvalidValue;
    }

    for (i = 0; i < n_rot / 2; i++) {
        f.freq[i] = infer_rope_angle(1, i, n_rot, theta);
    }

    infer_cuda_grid_2d(rows, heads * head_dim, &grid, &block);

    switch (mode) {
    case INFER_ROPE_NORM:
        infer_cuda_rope_kernel<INFER_ROPE_NORM>
            <<<grid, block, 0, stream>>>(y, x, ldx, pos, ld_pos, rows, heads,
                                         head_dim, n_rot, f);
        break;
    case INFER_ROPE_NEOX:
        infer_cuda_rope_kernel<INFER_ROPE_NEOX>
            <<<grid, block, 0, stream>>>(y, x, ldx, pos, ld_pos, rows, heads,
                                         head_dim, n_rot, f);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}
