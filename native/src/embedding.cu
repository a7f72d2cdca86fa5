// diffusers' get_timestep_embedding. CPU twin: CpuBackend.timestepEmbedding, replicated step by step:
//   half = dim / 2, denom = (float) half - shift, negLogPeriod = (float) -ln(max_period),
//   freq_i = (float) exp((double) ((i * negLogPeriod) / denom))   (product and quotient in fp32),
//   arg = scale * (t * freq_i)                                       (fp32),
//   y[sinAt + i] = (float) sin((double) arg), y[cosAt + i] = (float) cos((double) arg),
// sinAt = flip ? half : 0, cosAt = flip ? 0 : half, and a zero last column when dim is odd.
// --use_fast_math would approximate fp32 sinf/cosf/expf and divisions: the fp32 steps use the
// explicitly rounded intrinsics and the transcendental functions run in double (not affected).
#include "dtype.cuh"

#include <math.h>

namespace {

using namespace sdj;

template <typename T>
__global__ void timestep_embedding_kernel(const float *__restrict__ t, T *__restrict__ y, int64_t n, int64_t dim,
                                          int64_t half_dim, int flip, float denom, float neg_log_period, float scale) {
  const int64_t total = n * dim;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = e / dim, col = e - r * dim;
    float v = 0.0f;
    if (col < 2 * half_dim) {
      const bool first = col < half_dim;
      const int64_t i = first ? col : col - half_dim;
      const bool is_sin = first != (flip != 0);  // [sin | cos], or [cos | sin] flipped
      const float exponent = __fdiv_rn(__fmul_rn((float)i, neg_log_period), denom);
      const float freq = (float)exp((double)exponent);
      const float arg = __fmul_rn(scale, __fmul_rn(t[r], freq));
      v = is_sin ? (float)sin((double)arg) : (float)cos((double)arg);
    }
    y[e] = from_float<T>(v);
  }
}

}  // namespace

extern "C" int sdj_timestep_embedding(const float *t, void *y, int64_t n, int64_t dim, int flip_sin_to_cos,
                                      float shift, float scale, float max_period, int dtype, void *stream) {
  int64_t total;
  if (n < 0 || dim < 0 || !valid_dtype(dtype) || !mul_ok(n, dim, &total)) return cudaErrorInvalidValue;
  const int64_t half_dim = dim / 2;
  // Host fp32 arithmetic is IEEE (no fast-math on the host side), as in Java.
  const float denom = (float)half_dim - shift;
  if (half_dim > 0 && denom == 0.0f) return cudaErrorInvalidValue;  // the CPU twin rejects it too
  if (total == 0) return cudaSuccess;
  if (!t || !y) return cudaErrorInvalidValue;
  const float neg_log_period = (float)(-log((double)max_period));
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    timestep_embedding_kernel<T><<<blocks_for(total), kThreads, 0, st>>>(
        t, static_cast<T *>(y), n, dim, half_dim, flip_sin_to_cos, denom, neg_log_period, scale);
    return launched();
  });
}
