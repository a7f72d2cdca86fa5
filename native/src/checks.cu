// Numerical checks: the count of non-finite (NaN or Inf) elements.
#include "dtype.cuh"

namespace {

using namespace sdj;

// Non-finite means an all-ones exponent field; tested on the bits (fast-math may assume finite floats).
__device__ __forceinline__ bool nonfinite(uint32_t bits, Type<float>) { return (bits & 0x7f800000u) == 0x7f800000u; }
__device__ __forceinline__ bool nonfinite(uint16_t bits, Type<__half>) { return (bits & 0x7c00u) == 0x7c00u; }
__device__ __forceinline__ bool nonfinite(uint16_t bits, Type<__nv_bfloat16>) { return (bits & 0x7f80u) == 0x7f80u; }

template <typename T>
struct Bits {
  using type = uint16_t;
};
template <>
struct Bits<float> {
  using type = uint32_t;
};

// *count was zeroed on the stream; each block adds its total once.
template <typename T>
__global__ void count_nonfinite_kernel(const typename Bits<T>::type *__restrict__ x, int64_t n,
                                       unsigned long long *count) {
  __shared__ unsigned long long red[32];
  unsigned long long mine = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    mine += nonfinite(x[i], Type<T>{}) ? 1 : 0;
  }
  const unsigned long long total = block_sum(mine, red);
  if (threadIdx.x == 0 && total != 0) atomicAdd(count, total);
}

}  // namespace

extern "C" int sdj_count_nonfinite(const void *x, int64_t n, int dtype, int64_t *count, void *stream) {
  if (n < 0 || !valid_dtype(dtype) || !count) return cudaErrorInvalidValue;
  if (n > 0 && !x) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  // Overwrite *count even for n == 0; the memset is a stream operation (graph-capturable).
  cudaError_t e = cudaMemsetAsync(count, 0, sizeof(int64_t), st);
  if (e != cudaSuccess || n == 0) return static_cast<int>(e);
  unsigned long long *c = reinterpret_cast<unsigned long long *>(count);
  // Enough blocks to saturate memory; each block does one atomic.
  const unsigned grid = clamp_grid((n + kThreads - 1) / kThreads, 4096);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    using U = typename Bits<T>::type;
    count_nonfinite_kernel<T><<<grid, kThreads, 0, st>>>(static_cast<const U *>(x), n, c);
    return launched();
  });
}
