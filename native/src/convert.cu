// Conversions: dtype casts and the NCHW <-> NHWC transposes.
#include "dtype.cuh"

namespace {

using namespace sdj;

template <typename In, typename Out>
__global__ void cast_kernel(const In *x, Out *y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = from_float<Out>(to_float(x[i]));
  }
}

// fp16 <-> bf16 go through float: exact widening, then one rounding.
template <typename In>
int launch_cast(const void *x, void *y, int y_dtype, int64_t n, cudaStream_t stream) {
  return dispatch_dtype(y_dtype, [&](auto t) {
    using Out = typename decltype(t)::type;
    cast_kernel<In, Out><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const In *>(x), static_cast<Out *>(y), n);
    return launched();
  });
}

// Batched transpose x (batches, rows, cols) -> y (batches, cols, rows) through 32x32 shared tiles.
// Elements are moved as raw bits (U of the element's size). Block (32, 8); every loop bound is
// uniform over the block, so the __syncthreads are reached by all threads.
constexpr int kTile = 32, kTileRows = 8;

template <typename U>
__global__ void transpose_kernel(const U *__restrict__ x, U *__restrict__ y, int64_t batches, int64_t rows,
                                 int64_t cols) {
  __shared__ U tile[kTile][kTile + 1];
  const int64_t tiles_r = ceil_div(rows, kTile), tiles_c = ceil_div(cols, kTile);
  for (int64_t b = blockIdx.z; b < batches; b += gridDim.z) {
    const U *xb = x + b * rows * cols;
    U *yb = y + b * rows * cols;
    for (int64_t tr = blockIdx.y; tr < tiles_r; tr += gridDim.y) {
      for (int64_t tc = blockIdx.x; tc < tiles_c; tc += gridDim.x) {
        const int64_t r0 = tr * kTile, c0 = tc * kTile;
        for (int k = threadIdx.y; k < kTile; k += kTileRows) {
          const int64_t r = r0 + k, c = c0 + threadIdx.x;
          if (r < rows && c < cols) tile[k][threadIdx.x] = xb[r * cols + c];
        }
        __syncthreads();
        for (int k = threadIdx.y; k < kTile; k += kTileRows) {
          const int64_t c = c0 + k, r = r0 + threadIdx.x;
          if (c < cols && r < rows) yb[c * rows + r] = tile[threadIdx.x][k];
        }
        __syncthreads();
      }
    }
  }
}

int transpose(const void *x, void *y, int64_t batches, int64_t rows, int64_t cols, int dtype, void *stream) {
  int64_t per, total;
  if (batches < 0 || rows < 0 || cols < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (!mul_ok(rows, cols, &per) || !mul_ok(per, batches, &total)) return cudaErrorInvalidValue;
  if (total == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  const dim3 grid(clamp_grid(ceil_div(cols, kTile), INT32_MAX), clamp_grid(ceil_div(rows, kTile), 65535),
                  clamp_grid(batches, 65535));
  const dim3 block(kTile, kTileRows);
  return dispatch_bits(dtype, [&](auto t) {
    using U = typename decltype(t)::type;
    transpose_kernel<U><<<grid, block, 0, as_stream(stream)>>>(static_cast<const U *>(x), static_cast<U *>(y),
                                                                batches, rows, cols);
    return launched();
  });
}

}  // namespace

extern "C" int sdj_cast(const void *x, int x_dtype, void *y, int y_dtype, int64_t n, void *stream) {
  if (n < 0 || !valid_dtype(x_dtype) || !valid_dtype(y_dtype)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(x_dtype, [&](auto t) {
    using In = typename decltype(t)::type;
    return launch_cast<In>(x, y, y_dtype, n, st);
  });
}

extern "C" int sdj_nchw_to_nhwc(const void *x, void *y, int64_t n, int64_t c, int64_t hw, int dtype, void *stream) {
  return transpose(x, y, n, c, hw, dtype, stream);  // (N, C, HW) -> (N, HW, C)
}

extern "C" int sdj_nhwc_to_nchw(const void *x, void *y, int64_t n, int64_t hw, int64_t c, int dtype, void *stream) {
  return transpose(x, y, n, hw, c, dtype, stream);  // (N, HW, C) -> (N, C, HW)
}
