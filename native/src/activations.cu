// Activations (SiLU, GELU erf/tanh, QuickGELU) and GEGLU. CPU twins: CpuActivations.java.
#include "dtype.cuh"

namespace {

using namespace sdj;

// 0.5 x (1 + erf(x / sqrt 2)), with 1 + erf(a) written erfc(-a): accurate in the negative tail too
// (erff/erfcf are not changed by --use_fast_math).
__device__ __forceinline__ float gelu_erf(float v) { return 0.5f * v * erfcf(-0.70710678118654752440f * v); }

// 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). --use_fast_math turns tanhf into
// tanh.approx.f32 (relative error ~5e-4), so the identity 0.5 (1 + tanh(u)) = 1 / (1 + e^(-2u))
// is used instead: exact algebra, no cancellation near tanh = -1.
__device__ __forceinline__ float gelu_tanh(float v) {
  const float u = 0.79788456080286535588f * (v + 0.044715f * v * v * v);
  return v / (1.0f + __expf(-2.0f * u));
}

// x sigmoid(1.702 x), OpenAI CLIP.
__device__ __forceinline__ float quick_gelu(float v) { return v / (1.0f + __expf(-1.702f * v)); }

template <int Act>
__device__ __forceinline__ float activate(float v) {
  if (Act == SDJ_ACT_SILU) return silu(v);
  if (Act == SDJ_ACT_GELU_ERF) return gelu_erf(v);
  if (Act == SDJ_ACT_GELU_TANH) return gelu_tanh(v);
  return quick_gelu(v);
}

template <typename T, int Act>
__global__ void activation_kernel(const T *x, T *y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = from_float<T>(activate<Act>(to_float(x[i])));
  }
}

template <typename T, int Act>
int launch_activation(const void *x, void *y, int64_t n, cudaStream_t stream) {
  activation_kernel<T, Act><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const T *>(x), static_cast<T *>(y), n);
  return launched();
}

// y (rows, d) = x[:, :d] * gelu_erf(x[:, d:]) for x (rows, 2d).
template <typename T, typename I>
__global__ void geglu_kernel(const T *__restrict__ x, T *__restrict__ y, I rows, I d) {
  const I n = rows * d;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    const I r = i / d, j = i - r * d;
    const T *row = x + (int64_t)r * 2 * d;
    y[i] = from_float<T>(to_float(row[j]) * gelu_erf(to_float(row[d + j])));
  }
}

}  // namespace

extern "C" int sdj_activation(const void *x, void *y, int64_t n, int act, int dtype, void *stream) {
  if (n < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (act != SDJ_ACT_SILU && act != SDJ_ACT_GELU_ERF && act != SDJ_ACT_GELU_TANH && act != SDJ_ACT_QUICK_GELU) {
    return cudaErrorInvalidValue;
  }
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    switch (act) {
      case SDJ_ACT_SILU: return launch_activation<T, SDJ_ACT_SILU>(x, y, n, st);
      case SDJ_ACT_GELU_ERF: return launch_activation<T, SDJ_ACT_GELU_ERF>(x, y, n, st);
      case SDJ_ACT_GELU_TANH: return launch_activation<T, SDJ_ACT_GELU_TANH>(x, y, n, st);
      default: return launch_activation<T, SDJ_ACT_QUICK_GELU>(x, y, n, st);
    }
  });
}

extern "C" int sdj_geglu(const void *x, void *y, int64_t rows, int64_t d, int dtype, void *stream) {
  int64_t n, in;
  if (rows < 0 || d < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (!mul_ok(rows, d, &n) || !mul_ok(n, 2, &in)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    const T *px = static_cast<const T *>(x);
    T *py = static_cast<T *>(y);
    if (fits_u32(in)) {
      geglu_kernel<T, uint32_t><<<blocks_for(n), kThreads, 0, st>>>(px, py, (uint32_t)rows, (uint32_t)d);
    } else {
      geglu_kernel<T, int64_t><<<blocks_for(n), kThreads, 0, st>>>(px, py, rows, d);
    }
    return launched();
  });
}
