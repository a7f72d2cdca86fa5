/* sdj's own CUDA kernels, callable from C and through FFM (jextract reads this header).
 *
 * Conventions: every launcher takes device pointers and a cudaStream_t passed as void*
 * (so this header needs no CUDA headers), enqueues its work on that stream and returns the
 * cudaError_t of the launch as an int (0 = cudaSuccess; cudaErrorInvalidValue = 1 for bad
 * arguments, checked before anything is launched). Sizes are int64_t element counts.
 * Element types are passed as an SDJ_DTYPE_* code; storage is fp32, fp16 (__half) or bf16
 * (__nv_bfloat16) and every kernel computes in fp32 (statistics, sums, exponentials).
 * Tensors are dense and row-major; images are NHWC. Output and input may alias only where a
 * launcher says so.
 *
 * Each kernel's CPU twin lives in java/src/main/java/dev/sdj/backend/cpu under the same op name;
 * the CUDA backend's tests compare the two on random inputs.
 */
#ifndef SDJ_KERNELS_H
#define SDJ_KERNELS_H

#include <stdint.h>

#if defined(_WIN32)
#define SDJ_API __declspec(dllexport)
#else
#define SDJ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version of this header; the Java side checks it before using any kernel. */
#define SDJ_KERNELS_ABI_VERSION 3
SDJ_API int sdj_kernels_abi_version(void);

/* Element type codes. */
#define SDJ_DTYPE_F32 0
#define SDJ_DTYPE_F16 1
#define SDJ_DTYPE_BF16 2

/* The most dimensions sdj_binary broadcasts over. */
#define SDJ_MAX_DIMS 6

/* ---- kept from ABI 1 ---- */
/* y[i] = x[i] * sigmoid(x[i]); x and y may alias. fp32 in and out. */
SDJ_API int sdj_silu_f32(const float *x, float *y, int64_t n, void *stream);
/* y[i] = x[i] * sigmoid(x[i]) on fp16 storage (__half), computed in fp32. */
SDJ_API int sdj_silu_f16(const void *x, void *y, int64_t n, void *stream);

/* ---- conversions ---- */
/* y = x converted from x_dtype to y_dtype (round to nearest even); n elements. */
SDJ_API int sdj_cast(const void *x, int x_dtype, void *y, int y_dtype, int64_t n, void *stream);
/* (N, C, HW) -> (N, HW, C). */
SDJ_API int sdj_nchw_to_nhwc(const void *x, void *y, int64_t n, int64_t c, int64_t hw, int dtype, void *stream);
/* (N, HW, C) -> (N, C, HW). */
SDJ_API int sdj_nhwc_to_nchw(const void *x, void *y, int64_t n, int64_t hw, int64_t c, int dtype, void *stream);

/* ---- activations (x and y may alias) ---- */
#define SDJ_ACT_SILU 0
#define SDJ_ACT_GELU_ERF 1
#define SDJ_ACT_GELU_TANH 2
#define SDJ_ACT_QUICK_GELU 3
/* y = act(x) on n elements. quick-GELU is x * sigmoid(1.702 x) (CLIP). */
SDJ_API int sdj_activation(const void *x, void *y, int64_t n, int act, int dtype, void *stream);
/* GEGLU (diffusers): x (rows, 2d) -> y (rows, d), y = x[:, :d] * gelu_erf(x[:, d:]). */
SDJ_API int sdj_geglu(const void *x, void *y, int64_t rows, int64_t d, int dtype, void *stream);

/* ---- elementwise arithmetic ---- */
#define SDJ_BINARY_ADD 0
#define SDJ_BINARY_MUL 1
/* y = a op b with b broadcast to a's shape (NumPy rules, b already padded to a's rank):
 * shape[rank] is a's (and y's) shape, b_shape[rank] b's, each b_shape[i] == shape[i] or 1.
 * rank <= SDJ_MAX_DIMS. y may alias a. */
SDJ_API int sdj_binary(const void *a, const void *b, void *y, int rank, const int64_t *shape,
                       const int64_t *b_shape, int op, int dtype, void *stream);
/* y = x * s; x and y may alias. */
SDJ_API int sdj_scale(const void *x, void *y, int64_t n, float s, int dtype, void *stream);
/* y[r, c] += bias[c] for r < rows, c < cols, in place (bias in the same dtype). */
SDJ_API int sdj_bias_add(void *y, const void *bias, int64_t rows, int64_t cols, int dtype, void *stream);

/* ---- normalisation ---- */
/* GroupNorm of NHWC x (n, hw, c) with `groups` groups of c/groups channels; statistics in fp32 over
 * (hw, channels of the group), biased variance; y = (x - mean) * rsqrt(var + eps) * gamma + beta,
 * then SiLU when silu != 0. gamma, beta: c elements in dtype. c % groups == 0. */
SDJ_API int sdj_group_norm(const void *x, void *y, const void *gamma, const void *beta, int64_t n, int64_t hw,
                           int64_t c, int64_t groups, float eps, int silu, int dtype, void *stream);
/* LayerNorm over the last dim d of (rows, d); gamma, beta (d) or NULL for no affine. */
SDJ_API int sdj_layer_norm(const void *x, void *y, const void *gamma, const void *beta, int64_t rows, int64_t d,
                           float eps, int dtype, void *stream);
/* Softmax over the last dim of (rows, cols) of scale * x, in fp32. With causal_lq > 0, row r is query
 * (r % causal_lq) and sees columns 0 .. r % causal_lq only (the rest get probability 0). y may alias x. */
SDJ_API int sdj_softmax(const void *x, void *y, int64_t rows, int64_t cols, float scale, int64_t causal_lq,
                        int dtype, void *stream);

/* ---- resampling and layout ---- */
/* Nearest resize of NHWC x (n, h, w, c) to (n, oh, ow, c), PyTorch's rule: src = floor(dst * in / out)
 * with the ratio computed in fp32, clamped to in - 1. */
SDJ_API int sdj_upsample_nearest(const void *x, void *y, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                                 int64_t ow, int dtype, void *stream);
/* Zero padding of NHWC x (n, h, w, c) to (n, h + top + bottom, w + left + right, c). */
SDJ_API int sdj_pad2d(const void *x, void *y, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                      int64_t bottom, int64_t left, int64_t right, int dtype, void *stream);
/* Channel concat of a (rows, ca) and b (rows, cb) into y (rows, ca + cb). */
SDJ_API int sdj_concat_channels(const void *a, const void *b, void *y, int64_t rows, int64_t ca, int64_t cb,
                                int dtype, void *stream);

/* ---- embeddings ---- */
/* diffusers' get_timestep_embedding: y (n, dim) from fp32 device timesteps t (n).
 * half = dim / 2, exponent_i = -ln(max_period) * i / (half - shift), emb = t * exp(exponent_i) * scale,
 * [sin, cos] (or [cos, sin] with flip), a zero column last when dim is odd. */
SDJ_API int sdj_timestep_embedding(const float *t, void *y, int64_t n, int64_t dim, int flip_sin_to_cos,
                                   float shift, float scale, float max_period, int dtype, void *stream);

/* ---- step-indexed ops: a sampling step captured once as a CUDA graph reads its step from device memory ---- */
/* y[e] = sum_j coeffs[s * nbasis + j] * basis[j * n + e] for e < n, s = *step (a device int64); coeffs fp32
 * (steps x nbasis), basis (nbasis x n) and y (n) in dtype; zero coefficients are skipped. */
SDJ_API int sdj_lincomb_indexed(const float *coeffs, const int64_t *step, const void *basis, int64_t nbasis, int64_t n,
                                void *y, int dtype, void *stream);
/* y[0 .. n) = table[s * n .. s * n + n), s = *step. */
SDJ_API int sdj_gather_indexed(const void *table, const int64_t *step, int64_t n, void *y, int dtype, void *stream);
/* table[s * n .. s * n + n) = x[0 .. n), s = *step. */
SDJ_API int sdj_scatter_indexed(const void *x, const int64_t *step, int64_t n, void *table, int dtype, void *stream);
/* *counter += 1 (one thread). */
SDJ_API int sdj_increment(int64_t *counter, void *stream);

/* ---- checks ---- */
/* Counts the non-finite (NaN or Inf) elements of x into *count (a device int64, overwritten). */
SDJ_API int sdj_count_nonfinite(const void *x, int64_t n, int dtype, int64_t *count, void *stream);

#ifdef __cplusplus
}
#endif

#endif
