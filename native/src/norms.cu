// GroupNorm (NHWC, optional fused SiLU) and LayerNorm. CPU twins: CpuNorms.java.
#include "dtype.cuh"

namespace {

using namespace sdj;

// ---- GroupNorm ----
//
// One block per (sample, group), grid-stride over the n*groups pairs. The group's hw*cpg elements
// sit at x[s][p][g*cpg + j] (pixel p, channel j of the group): the block walks the group's flat
// index e = p*cpg + j. Two passes for the statistics, as CpuNorms does: the mean, then
// sum (x - mean)^2; each thread adds its elements in fp32 four at a time and carries the running
// sum in double, the block reduces in double. The mean is kept as a float pair hi + lo, so
// x - mean = (x - hi) - lo stays accurate when |mean| >> std (x - hi is exact near the mean).
// Output y = (x - mean) * a_j + beta_j with a_j = gamma_j * rstd (rstd in double, a_j rounded to
// float), SiLU when asked. (CpuNorms folds the mean into b = beta - mean * a and computes
// x * a + b, which loses about |mean| / std ulps to cancellation; this form does not, and both
// agree with a float64 reference to ~1e-7 relative for |mean| / std of order 1.)

constexpr int kGroupNormUnroll = 4;
// Per-channel a, b of a group go to shared memory up to this many channels per group, else are
// computed per element.
constexpr int kGroupNormSmemChannels = 1024;

template <typename T, typename I>
__device__ __forceinline__ float group_load(const T *xs, I e, I cpg, I c) {
  const I p = e / cpg;
  return to_float(xs[p * c + (e - p * cpg)]);
}

template <typename T, typename I>
__global__ void __launch_bounds__(512) group_norm_kernel(const T *__restrict__ x, T *__restrict__ y,
                                                          const T *__restrict__ gamma, const T *__restrict__ beta,
                                                          int64_t n, I hw, I c, int64_t groups, float eps,
                                                          int silu_after) {
  constexpr int U = kGroupNormUnroll;
  __shared__ double red[32];
  __shared__ float s_a[kGroupNormSmemChannels], s_b[kGroupNormSmemChannels];
  const I cpg = c / (I)groups, count = hw * cpg, step = (I)blockDim.x * U;
  const bool smem_affine = cpg <= (I)kGroupNormSmemChannels;

  for (int64_t job = blockIdx.x; job < n * groups; job += gridDim.x) {
    const int64_t s = job / groups, g = job - s * groups;
    const int64_t off = s * (int64_t)hw * (int64_t)c + g * (int64_t)cpg;
    const T *xs = x + off;
    T *ys = y + off;

    // Pass 1: the mean.
    double acc = 0.0;
    for (I e0 = threadIdx.x; e0 < count; e0 += step) {
      float v[U];
#pragma unroll
      for (int u = 0; u < U; u++) {
        const I e = e0 + (I)u * (I)blockDim.x;
        v[u] = e < count ? group_load(xs, e, cpg, c) : 0.0f;
      }
      float part = 0.0f;
#pragma unroll
      for (int u = 0; u < U; u++) part += v[u];
      acc += (double)part;
    }
    const double mean = block_sum(acc, red) / (double)count;
    const float mean_hi = (float)mean, mean_lo = (float)(mean - (double)mean_hi);

    // Pass 2: the biased variance.
    acc = 0.0;
    for (I e0 = threadIdx.x; e0 < count; e0 += step) {
      float d[U];
#pragma unroll
      for (int u = 0; u < U; u++) {
        const I e = e0 + (I)u * (I)blockDim.x;
        d[u] = e < count ? (group_load(xs, e, cpg, c) - mean_hi) - mean_lo : 0.0f;
      }
      float part = 0.0f;
#pragma unroll
      for (int u = 0; u < U; u++) part = fmaf(d[u], d[u], part);
      acc += (double)part;
    }
    const double var = block_sum(acc, red) / (double)count;
    const double rstd = 1.0 / sqrt(var + (double)eps);

    // Per-channel scale a_j = gamma_j * rstd and shift beta_j.
    const T *gg = gamma + g * (int64_t)cpg, *bg = beta + g * (int64_t)cpg;
    if (smem_affine) {
      for (I j = threadIdx.x; j < cpg; j += blockDim.x) {
        s_a[j] = (float)((double)to_float(gg[j]) * rstd);
        s_b[j] = to_float(bg[j]);
      }
      __syncthreads();
    }

    // Pass 3: y = (x - mean) * a + beta (then SiLU).
    for (I e = threadIdx.x; e < count; e += blockDim.x) {
      const I p = e / cpg, j = e - p * cpg, at = p * c + j;
      float a, b;
      if (smem_affine) {
        a = s_a[j];
        b = s_b[j];
      } else {
        a = (float)((double)to_float(gg[j]) * rstd);
        b = to_float(bg[j]);
      }
      float v = fmaf((to_float(xs[at]) - mean_hi) - mean_lo, a, b);
      if (silu_after) v = silu(v);
      ys[at] = from_float<T>(v);
    }
    __syncthreads();  // s_a, s_b are rewritten by the next pair
  }
}

// ---- LayerNorm ----
//
// LayerNorm rows up to this length go to a warp each, longer ones to a block.
constexpr int64_t kLayerNormWarpMax = 2048;

// Per row: mean = sum / d, var = sum (x - mean)^2 / d (two passes, as CpuNorms), rstd rounded from
// double; y = (x - mean) * rstd [* gamma] [+ beta].
template <typename T, typename Team>
__global__ void layer_norm_kernel(const T *__restrict__ x, T *__restrict__ y, const T *__restrict__ gamma,
                                  const T *__restrict__ beta, int64_t rows, int64_t d, float eps) {
  __shared__ float red[32];
  const Team team{};
  for (int64_t r = team.first(); r < rows; r += team.stride()) {
    const T *xr = x + r * d;
    T *yr = y + r * d;
    float s = 0.0f;
    for (int64_t j = team.rank(); j < d; j += team.size()) s += to_float(xr[j]);
    const float mean = __fdiv_rn(team.sum(s, red), (float)d);
    float sq = 0.0f;
    for (int64_t j = team.rank(); j < d; j += team.size()) {
      const float dv = to_float(xr[j]) - mean;
      sq = fmaf(dv, dv, sq);
    }
    const float var = __fdiv_rn(team.sum(sq, red), (float)d);
    const float rstd = (float)(1.0 / sqrt((double)__fadd_rn(var, eps)));
    for (int64_t j = team.rank(); j < d; j += team.size()) {
      float v = (to_float(xr[j]) - mean) * rstd;
      if (gamma) v = __fmul_rn(v, to_float(gamma[j]));
      if (beta) v = __fadd_rn(v, to_float(beta[j]));
      yr[j] = from_float<T>(v);
    }
  }
}

}  // namespace

extern "C" int sdj_group_norm(const void *x, void *y, const void *gamma, const void *beta, int64_t n, int64_t hw,
                              int64_t c, int64_t groups, float eps, int silu, int dtype, void *stream) {
  int64_t per, total, pairs;
  if (n < 0 || hw < 0 || c < 0 || groups < 1 || c % groups != 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (!mul_ok(hw, c, &per) || !mul_ok(per, n, &total) || !mul_ok(n, groups, &pairs)) return cudaErrorInvalidValue;
  if (total == 0) return cudaSuccess;
  if (!x || !y || !gamma || !beta) return cudaErrorInvalidValue;
  const int64_t count = hw * (c / groups);
  const int threads = count >= 16384 ? 512 : 256;
  const unsigned grid = clamp_grid(pairs, INT32_MAX);
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    const T *px = static_cast<const T *>(x), *pg = static_cast<const T *>(gamma), *pb = static_cast<const T *>(beta);
    T *py = static_cast<T *>(y);
    // 32-bit in-sample indices when the sample (and one unrolled step past it) stays below 2^31.
    if (fits_u32(per + (int64_t)threads * kGroupNormUnroll)) {
      group_norm_kernel<T, uint32_t><<<grid, threads, 0, st>>>(px, py, pg, pb, n, (uint32_t)hw, (uint32_t)c, groups,
                                                                eps, silu);
    } else {
      group_norm_kernel<T, int64_t><<<grid, threads, 0, st>>>(px, py, pg, pb, n, hw, c, groups, eps, silu);
    }
    return launched();
  });
}

extern "C" int sdj_layer_norm(const void *x, void *y, const void *gamma, const void *beta, int64_t rows, int64_t d,
                              float eps, int dtype, void *stream) {
  int64_t total;
  if (rows < 0 || d < 0 || !valid_dtype(dtype) || !mul_ok(rows, d, &total)) return cudaErrorInvalidValue;
  if (total == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    const T *px = static_cast<const T *>(x), *pg = static_cast<const T *>(gamma), *pb = static_cast<const T *>(beta);
    T *py = static_cast<T *>(y);
    if (d <= kLayerNormWarpMax) {
      const int64_t rows_per_block = kRowBlockThreads / 32;
      layer_norm_kernel<T, WarpTeam><<<clamp_grid(ceil_div(rows, rows_per_block), kMaxBlocks),
                                       kRowBlockThreads, 0, st>>>(px, py, pg, pb, rows, d, eps);
    } else {
      layer_norm_kernel<T, BlockTeam><<<clamp_grid(rows, kMaxBlocks), kRowBlockThreads, 0, st>>>(px, py, pg, pb, rows,
                                                                                                 d, eps);
    }
    return launched();
  });
}
