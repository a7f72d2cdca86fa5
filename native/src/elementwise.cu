// Elementwise kernels. The CPU reference for each lives in
// java/src/main/java/dev/sdj/backend/cpu/CpuBackend.java under the same op name.
#include "sdj_kernels.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace {

__device__ __forceinline__ float silu(float v) { return v / (1.0f + __expf(-v)); }

constexpr int kThreads = 256;

// Grid-stride so any n fits in a capped grid.
int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

__global__ void silu_f32(const float *__restrict__ x, float *__restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = silu(x[i]);
  }
}

__global__ void silu_f16(const __half *__restrict__ x, __half *__restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = __float2half(silu(__half2float(x[i])));
  }
}

}  // namespace

extern "C" int sdj_kernels_abi_version(void) { return SDJ_KERNELS_ABI_VERSION; }

extern "C" int sdj_silu_f32(const float *x, float *y, int64_t n, void *stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  silu_f32<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n);
  return cudaGetLastError();
}

extern "C" int sdj_silu_f16(const void *x, void *y, int64_t n, void *stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  silu_f16<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __half *>(x), static_cast<__half *>(y), n);
  return cudaGetLastError();
}
