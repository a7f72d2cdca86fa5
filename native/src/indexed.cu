// Step-indexed ops: the sampling step of DeviceDenoisingLoop, captured once as a CUDA graph, reads which step
// it is from device memory, so one graph serves every step. CPU twin: the eager path of the same loop
// (Backend.linearCombination with that step's coefficients, Backend.copy of that step's rows).
#include "dtype.cuh"

namespace {

using namespace sdj;

template <typename T>
__global__ void lincomb_indexed(const float *__restrict__ coeffs, const int64_t *__restrict__ step,
                                const T *__restrict__ basis, int64_t nbasis, int64_t n, T *__restrict__ y) {
  const float *c = coeffs + *step * nbasis;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    float acc = 0.0f;
    for (int64_t j = 0; j < nbasis; j++) {
      const float cj = c[j];
      if (cj != 0.0f) acc = fmaf(cj, to_float(basis[j * n + e]), acc);
    }
    y[e] = from_float<T>(acc);
  }
}

template <typename U>
__global__ void gather_indexed(const U *__restrict__ table, const int64_t *__restrict__ step, int64_t n, U *__restrict__ y) {
  const U *src = table + *step * n;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) y[e] = src[e];
}

template <typename U>
__global__ void scatter_indexed(const U *__restrict__ x, const int64_t *__restrict__ step, int64_t n, U *__restrict__ table) {
  U *dst = table + *step * n;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) dst[e] = x[e];
}

__global__ void increment(int64_t *counter) { *counter += 1; }

}  // namespace

extern "C" int sdj_lincomb_indexed(const float *coeffs, const int64_t *step, const void *basis, int64_t nbasis, int64_t n,
                                   void *y, int dtype, void *stream) {
  if (n < 0 || nbasis < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (coeffs == nullptr || step == nullptr || y == nullptr || (nbasis > 0 && basis == nullptr)) return cudaErrorInvalidValue;
  int64_t total;
  if (!mul_ok(nbasis, n, &total)) return cudaErrorInvalidValue;
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    lincomb_indexed<T><<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(coeffs, step, static_cast<const T *>(basis), nbasis, n,
                                                                         static_cast<T *>(y));
    return launched();
  });
}

extern "C" int sdj_gather_indexed(const void *table, const int64_t *step, int64_t n, void *y, int dtype, void *stream) {
  if (n < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (table == nullptr || step == nullptr || y == nullptr) return cudaErrorInvalidValue;
  return dispatch_bits(dtype, [&](auto tag) {
    using U = typename decltype(tag)::type;
    gather_indexed<U><<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(static_cast<const U *>(table), step, n, static_cast<U *>(y));
    return launched();
  });
}

extern "C" int sdj_scatter_indexed(const void *x, const int64_t *step, int64_t n, void *table, int dtype, void *stream) {
  if (n < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (x == nullptr || step == nullptr || table == nullptr) return cudaErrorInvalidValue;
  return dispatch_bits(dtype, [&](auto tag) {
    using U = typename decltype(tag)::type;
    scatter_indexed<U><<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(static_cast<const U *>(x), step, n, static_cast<U *>(table));
    return launched();
  });
}

extern "C" int sdj_increment(int64_t *counter, void *stream) {
  if (counter == nullptr) return cudaErrorInvalidValue;
  increment<<<1, 1, 0, as_stream(stream)>>>(counter);
  return launched();
}
