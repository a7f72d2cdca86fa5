// Softmax over the last dim of scale * x, optionally causal. CPU twins: CpuNorms.softmax (no scale, no
// mask) and the masked row softmax of CpuAttention (query i sees keys 0 .. i).
#include "dtype.cuh"

namespace {

using namespace sdj;

// Rows up to this length go to a warp each, longer ones (attention over many keys) to a block.
constexpr int64_t kSoftmaxWarpMax = 1024;

// Three passes over the row's visible columns: the maximum of scale * x, the sum of
// e^(scale * x - max), then y = e^(scale * x - max) / sum; columns past the visible ones get 0.
// y may alias x: every element is read and then written by the same thread, after the row's
// reductions (which every thread of the team has passed) are complete.
template <typename T, typename Team>
__global__ void softmax_kernel(const T *x, T *y, int64_t rows, int64_t cols, float scale, int64_t causal_lq) {
  __shared__ float red[32];
  const Team team{};
  for (int64_t r = team.first(); r < rows; r += team.stride()) {
    const T *xr = x + r * cols;
    T *yr = y + r * cols;
    int64_t visible = cols;
    if (causal_lq > 0) {
      const int64_t q = r % causal_lq + 1;
      if (q < visible) visible = q;
    }
    float m = -INFINITY;
    for (int64_t j = team.rank(); j < visible; j += team.size()) m = fmaxf(m, __fmul_rn(scale, to_float(xr[j])));
    m = team.max(m, red);
    float s = 0.0f;
    for (int64_t j = team.rank(); j < visible; j += team.size()) s += __expf(__fmul_rn(scale, to_float(xr[j])) - m);
    s = team.sum(s, red);
    const float inv = __frcp_rn(s);
    for (int64_t j = team.rank(); j < cols; j += team.size()) {
      const float p = j < visible ? __expf(__fmul_rn(scale, to_float(xr[j])) - m) * inv : 0.0f;
      yr[j] = from_float<T>(p);
    }
  }
}

}  // namespace

extern "C" int sdj_softmax(const void *x, void *y, int64_t rows, int64_t cols, float scale, int64_t causal_lq,
                           int dtype, void *stream) {
  int64_t total;
  if (rows < 0 || cols < 0 || causal_lq < 0 || !valid_dtype(dtype) || !mul_ok(rows, cols, &total)) {
    return cudaErrorInvalidValue;
  }
  if (total == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    const T *px = static_cast<const T *>(x);
    T *py = static_cast<T *>(y);
    if (cols <= kSoftmaxWarpMax) {
      const int64_t rows_per_block = kRowBlockThreads / 32;
      softmax_kernel<T, WarpTeam><<<clamp_grid(ceil_div(rows, rows_per_block), kMaxBlocks),
                                    kRowBlockThreads, 0, st>>>(px, py, rows, cols, scale, causal_lq);
    } else {
      softmax_kernel<T, BlockTeam><<<clamp_grid(rows, kMaxBlocks), kRowBlockThreads, 0, st>>>(px, py, rows, cols,
                                                                                              scale, causal_lq);
    }
    return launched();
  });
}
