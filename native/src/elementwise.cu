// Elementwise kernels: SiLU (ABI 1), broadcast add/mul, scale, bias add. The CPU reference for each
// lives in java/src/main/java/dev/sdj/backend/cpu (CpuActivations, CpuElementwise) under the same op name.
#include "dtype.cuh"

namespace {

using namespace sdj;

__global__ void silu_f32(const float *__restrict__ x, float *__restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = silu(x[i]);
  }
}

__global__ void silu_f16(const __half *__restrict__ x, __half *__restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = __float2half_rn(silu(__half2float(x[i])));
  }
}

// ---- broadcast binary ----

// a's shape with runs of dims coalesced: every dim is either full in b (b_stride = b's stride) or
// broadcast (b_stride = 0). Passed by value, so the host arrays may go right after the launch.
struct Broadcast {
  int rank;
  int64_t dim[SDJ_MAX_DIMS];
  int64_t b_stride[SDJ_MAX_DIMS];
};

template <int Op>
__device__ __forceinline__ float binary_op(float a, float b) {
  return Op == SDJ_BINARY_ADD ? a + b : a * b;
}

// b has a's shape (same flat index) or is a single value (index 0).
template <typename T, int Op, typename I, bool Full>
__global__ void binary_flat(const T *a, const T *__restrict__ b, T *y, I n) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    y[i] = from_float<T>(binary_op<Op>(to_float(a[i]), to_float(b[Full ? i : 0])));
  }
}

template <typename T, int Op, typename I>
__global__ void binary_broadcast(const T *a, const T *__restrict__ b, T *y, I n, Broadcast s) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I q = i, bi = 0;
#pragma unroll
    for (int d = SDJ_MAX_DIMS - 1; d >= 0; d--) {
      if (d < s.rank) {
        const I size = (I)s.dim[d];
        const I next = q / size;
        bi += (q - next * size) * (I)s.b_stride[d];
        q = next;
      }
    }
    y[i] = from_float<T>(binary_op<Op>(to_float(a[i]), to_float(b[bi])));
  }
}

template <typename T, int Op, typename I>
int launch_binary(const void *a, const void *b, void *y, int64_t n, const Broadcast &s, cudaStream_t stream) {
  const T *pa = static_cast<const T *>(a), *pb = static_cast<const T *>(b);
  T *py = static_cast<T *>(y);
  if (s.rank == 1 && s.b_stride[0] != 0) {
    binary_flat<T, Op, I, true><<<blocks_for(n), kThreads, 0, stream>>>(pa, pb, py, (I)n);
  } else if (s.rank == 1) {
    binary_flat<T, Op, I, false><<<blocks_for(n), kThreads, 0, stream>>>(pa, pb, py, (I)n);
  } else {
    binary_broadcast<T, Op, I><<<blocks_for(n), kThreads, 0, stream>>>(pa, pb, py, (I)n, s);
  }
  return launched();
}

// ---- scale, bias ----

template <typename T>
__global__ void scale_kernel(const T *x, T *y, int64_t n, float s) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = from_float<T>(to_float(x[i]) * s);
  }
}

// Rows over blockIdx.y (grid-stride), columns over x: no division per element.
template <typename T>
__global__ void bias_add_kernel(T *y, const T *__restrict__ bias, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    T *row = y + r * cols;
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
      row[c] = from_float<T>(to_float(row[c]) + to_float(bias[c]));
    }
  }
}

}  // namespace

extern "C" int sdj_kernels_abi_version(void) { return SDJ_KERNELS_ABI_VERSION; }

extern "C" int sdj_silu_f32(const float *x, float *y, int64_t n, void *stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  silu_f32<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, y, n);
  return launched();
}

extern "C" int sdj_silu_f16(const void *x, void *y, int64_t n, void *stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  silu_f16<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(static_cast<const __half *>(x),
                                                             static_cast<__half *>(y), n);
  return launched();
}

extern "C" int sdj_binary(const void *a, const void *b, void *y, int rank, const int64_t *shape,
                          const int64_t *b_shape, int op, int dtype, void *stream) {
  if (rank < 0 || rank > SDJ_MAX_DIMS || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (op != SDJ_BINARY_ADD && op != SDJ_BINARY_MUL) return cudaErrorInvalidValue;
  if (rank > 0 && (!shape || !b_shape)) return cudaErrorInvalidValue;
  int64_t n = 1;
  for (int d = 0; d < rank; d++) {
    if (shape[d] < 0 || (b_shape[d] != shape[d] && b_shape[d] != 1)) return cudaErrorInvalidValue;
    if (!mul_ok(n, shape[d], &n)) return cudaErrorInvalidValue;
  }
  if (n == 0) return cudaSuccess;
  if (!a || !b || !y) return cudaErrorInvalidValue;

  // Coalesce: drop a's size-1 dims, merge neighbours that are both full or both broadcast in b.
  Broadcast s{};
  bool full[SDJ_MAX_DIMS] = {};
  for (int d = 0; d < rank; d++) {
    if (shape[d] == 1) continue;
    const bool f = b_shape[d] == shape[d];
    if (s.rank > 0 && full[s.rank - 1] == f) {
      s.dim[s.rank - 1] *= shape[d];
    } else {
      full[s.rank] = f;
      s.dim[s.rank++] = shape[d];
    }
  }
  if (s.rank == 0) {  // a single element
    full[0] = true;
    s.dim[s.rank++] = 1;
  }
  int64_t stride = 1;
  for (int d = s.rank - 1; d >= 0; d--) {
    s.b_stride[d] = full[d] ? stride : 0;
    if (full[d]) stride *= s.dim[d];
  }

  cudaStream_t st = as_stream(stream);
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    if (op == SDJ_BINARY_ADD) {
      return fits_u32(n) ? launch_binary<T, SDJ_BINARY_ADD, uint32_t>(a, b, y, n, s, st)
                         : launch_binary<T, SDJ_BINARY_ADD, int64_t>(a, b, y, n, s, st);
    }
    return fits_u32(n) ? launch_binary<T, SDJ_BINARY_MUL, uint32_t>(a, b, y, n, s, st)
                       : launch_binary<T, SDJ_BINARY_MUL, int64_t>(a, b, y, n, s, st);
  });
}

extern "C" int sdj_scale(const void *x, void *y, int64_t n, float s, int dtype, void *stream) {
  if (n < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    scale_kernel<T><<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(static_cast<const T *>(x),
                                                                        static_cast<T *>(y), n, s);
    return launched();
  });
}

extern "C" int sdj_bias_add(void *y, const void *bias, int64_t rows, int64_t cols, int dtype, void *stream) {
  int64_t n;
  if (rows < 0 || cols < 0 || !valid_dtype(dtype) || !mul_ok(rows, cols, &n)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!y || !bias) return cudaErrorInvalidValue;
  const dim3 grid(blocks_for(cols), clamp_grid(rows, 65535));
  return dispatch_dtype(dtype, [&](auto t) {
    using T = typename decltype(t)::type;
    bias_add_kernel<T><<<grid, kThreads, 0, as_stream(stream)>>>(static_cast<T *>(y), static_cast<const T *>(bias),
                                                                  rows, cols);
    return launched();
  });
}
