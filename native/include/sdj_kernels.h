/* sdj's own CUDA kernels, callable from C and through FFM (jextract reads this header).
 *
 * Conventions: every launcher takes device pointers and a cudaStream_t passed as void*
 * (so this header needs no CUDA headers), enqueues its work on that stream and returns the
 * cudaError_t of the launch as an int (0 = cudaSuccess). Sizes are int64_t element counts.
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
#define SDJ_KERNELS_ABI_VERSION 1
SDJ_API int sdj_kernels_abi_version(void);

/* y[i] = x[i] * sigmoid(x[i]); x and y may alias. fp32 in and out. */
SDJ_API int sdj_silu_f32(const float *x, float *y, int64_t n, void *stream);

/* y[i] = x[i] * sigmoid(x[i]) on fp16 storage (__half), computed in fp32. */
SDJ_API int sdj_silu_f16(const void *x, void *y, int64_t n, void *stream);

#ifdef __cplusplus
}
#endif

#endif
