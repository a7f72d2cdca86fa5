// Shared helpers of sdj's kernels (internal; not part of the ABI): fp32/fp16/bf16 storage loaded
// and stored as float, dtype dispatch, launch geometry and block reductions.
#pragma once

#include "sdj_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdint.h>

namespace sdj {

// ---- storage <-> float (round to nearest even on the way back) ----

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// ---- dtype dispatch (host) ----

template <typename T>
struct Type {
  using type = T;
};

inline bool valid_dtype(int dtype) {
  return dtype == SDJ_DTYPE_F32 || dtype == SDJ_DTYPE_F16 || dtype == SDJ_DTYPE_BF16;
}

inline int dtype_size(int dtype) { return dtype == SDJ_DTYPE_F32 ? 4 : 2; }

// f(Type<T>{}) with T the storage type of dtype; an unknown dtype is cudaErrorInvalidValue.
template <typename F>
int dispatch_dtype(int dtype, F &&f) {
  switch (dtype) {
    case SDJ_DTYPE_F32: return f(Type<float>{});
    case SDJ_DTYPE_F16: return f(Type<__half>{});
    case SDJ_DTYPE_BF16: return f(Type<__nv_bfloat16>{});
    default: return cudaErrorInvalidValue;
  }
}

// For kernels that only move elements: f(Type<U>{}) with U an unsigned integer of the element's size.
template <typename F>
int dispatch_bits(int dtype, F &&f) {
  switch (dtype) {
    case SDJ_DTYPE_F32: return f(Type<uint32_t>{});
    case SDJ_DTYPE_F16:
    case SDJ_DTYPE_BF16: return f(Type<uint16_t>{});
    default: return cudaErrorInvalidValue;
  }
}

// ---- sizes (host) ----

// *out = a * b for a, b >= 0; false on int64 overflow.
inline bool mul_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }
inline bool add_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }

// 32-bit index arithmetic suffices when every index stays below 2^31.
inline bool fits_u32(int64_t n) { return n <= INT32_MAX; }

// ---- launch geometry (host) ----

constexpr int kThreads = 256;
// Grid-stride kernels need no more blocks than this to fill any current GPU.
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

// ceil(a / b) for a >= 0, b > 0, without overflow.
__host__ __device__ __forceinline__ int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0); }

inline unsigned blocks_for(int64_t work, int threads = kThreads) {
  int64_t b = ceil_div(work, threads);
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks);
}

inline unsigned clamp_grid(int64_t blocks, int64_t limit) {
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < limit ? blocks : limit);
}

inline cudaStream_t as_stream(void *stream) { return static_cast<cudaStream_t>(stream); }

inline int launched() { return static_cast<int>(cudaGetLastError()); }

// ---- reductions (device); every lane of the warp / thread of the block must call them ----

template <typename V>
__device__ __forceinline__ V warp_sum(V v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The sum over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread.
// red: 32 shared slots, reusable right after the call returns.
template <typename V>
__device__ __forceinline__ V block_sum(V v, V *red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // every thread has read red[0] of the previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    V w = lane < warps ? red[lane] : V(0);
    w = warp_sum(w);
    if (lane == 0) red[0] = w;
  }
  __syncthreads();
  return red[0];
}

__device__ __forceinline__ float block_max(float v, float *red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < warps ? red[lane] : -INFINITY;
    w = warp_max(w);
    if (lane == 0) red[0] = w;
  }
  __syncthreads();
  return red[0];
}

// ---- row teams (device): a warp or the whole block works on one row at a time ----

constexpr int kRowBlockThreads = 256;  // warp teams: 8 rows per block

struct WarpTeam {
  __device__ __forceinline__ int rank() const { return threadIdx.x & 31; }
  __device__ __forceinline__ int size() const { return 32; }
  __device__ __forceinline__ int64_t first() const {
    return blockIdx.x * (int64_t)(blockDim.x >> 5) + (threadIdx.x >> 5);
  }
  __device__ __forceinline__ int64_t stride() const { return (int64_t)gridDim.x * (blockDim.x >> 5); }
  __device__ __forceinline__ float sum(float v, float *) const { return warp_sum(v); }
  __device__ __forceinline__ float max(float v, float *) const { return warp_max(v); }
};

struct BlockTeam {
  __device__ __forceinline__ int rank() const { return threadIdx.x; }
  __device__ __forceinline__ int size() const { return blockDim.x; }
  __device__ __forceinline__ int64_t first() const { return blockIdx.x; }
  __device__ __forceinline__ int64_t stride() const { return gridDim.x; }
  __device__ __forceinline__ float sum(float v, float *red) const { return block_sum(v, red); }
  __device__ __forceinline__ float max(float v, float *red) const { return block_max(v, red); }
};

// ---- activations (device), fp32; fast-math __expf is accurate enough here ----

__device__ __forceinline__ float silu(float v) { return v / (1.0f + __expf(-v)); }

}  // namespace sdj
