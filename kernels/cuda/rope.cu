/*
 * ngx_infer CUDA backend: rotary embeddings, see rope.cuh.
 *
 * A thread per output value, walking the rows as binary.cu does: it
 * reads its own value and its partner's and writes its own, so nothing
 * is shared.  Both values of a pair compute the same angle with
 * infer_rope_angle() of infer_math.h, the CPU's expression, and
 * sincosf() at full precision (no fast math in this build).
 */

#include <math.h>

#include "rope.cuh"

extern "C" {
#include "infer_ops.h"
}


template <int MODE>
static __global__ void
infer_cuda_rope_kernel(float *y, const float *x, int64_t ldx,
    const int32_t *pos, int64_t ld_pos, int rows, int heads, int head_dim,
    int n_rot, float theta)
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
            sincosf(infer_rope_angle(pos[r * ld_pos], i, n_rot, theta), &s,
                    &co);

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
    dim3  grid, block;

    if (rows <= 0 || heads <= 0 || head_dim <= 0) {
        return cudaSuccess;
    }

    infer_cuda_grid_2d(rows, heads * head_dim, &grid, &block);

    switch (mode) {
    case INFER_ROPE_NORM:
        infer_cuda_rope_kernel<INFER_ROPE_NORM>
            <<<grid, block, 0, stream>>>(y, x, ldx, pos, ld_pos, rows, heads,
                                         head_dim, n_rot, theta);
        break;
    case INFER_ROPE_NEOX:
        infer_cuda_rope_kernel<INFER_ROPE_NEOX>
            <<<grid, block, 0, stream>>>(y, x, ldx, pos, ld_pos, rows, heads,
                                         head_dim, n_rot, theta);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}
