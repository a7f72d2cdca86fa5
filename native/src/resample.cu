// Resampling and layout: nearest upsampling, zero padding and channel concatenation of NHWC /
// row-major tensors. Pure data movement: elements travel as raw bits (U of the element's size).
// CPU twins: CpuBackend.upsampleNearest, pad2d, concatChannels.
#include "dtype.cuh"

namespace {

using namespace sdj;

// PyTorch's nearest_idx (CpuBackend.nearestSources): identity for equal sizes, dst / 2 for exactly
// 2x, else min(floor(dst * (in / out)), in - 1) with the ratio and the product in fp32 (explicitly
// rounded: --use_fast_math would make the division approximate).
template <typename I>
__device__ __forceinline__ I nearest_source(I dst, I in, I out, float ratio) {
  if (out == in) return dst;
  if ((out & 1) == 0 && (out >> 1) == in) return dst >> 1;  // out == 2 * in, without overflow
  const I src = (I)floorf(__fmul_rn((float)dst, ratio));
  return src < in - 1 ? src : in - 1;
}

template <typename U, typename I>
__global__ void upsample_nearest_kernel(const U *__restrict__ x, U *__restrict__ y, I total, I h, I w, I c, I oh,
                                        I ow, float ratio_h, float ratio_w) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I pix = i / c, ch = i - pix * c;
    const I row = pix / ow, ox = pix - row * ow;
    const I b = row / oh, oy = row - b * oh;
    const I sy = nearest_source(oy, h, oh, ratio_h), sx = nearest_source(ox, w, ow, ratio_w);
    y[i] = x[((b * h + sy) * w + sx) * c + ch];
  }
}

template <typename U, typename I>
__global__ void pad2d_kernel(const U *__restrict__ x, U *__restrict__ y, I total, I h, I w, I c, I oh, I ow, I top,
                             I left) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I pix = i / c, ch = i - pix * c;
    const I row = pix / ow, ox = pix - row * ow;
    const I b = row / oh, oy = row - b * oh;
    U v = 0;  // +0 in fp32, fp16 and bf16
    if (oy >= top && oy < top + h && ox >= left && ox < left + w) {
      v = x[((b * h + (oy - top)) * w + (ox - left)) * c + ch];
    }
    y[i] = v;
  }
}

template <typename U, typename I>
__global__ void concat_kernel(const U *__restrict__ a, const U *__restrict__ b, U *__restrict__ y, I total, I ca,
                              I cb) {
  const I cy = ca + cb;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I r = i / cy, j = i - r * cy;
    y[i] = j < ca ? a[r * ca + j] : b[r * cb + (j - ca)];
  }
}

}  // namespace

extern "C" int sdj_upsample_nearest(const void *x, void *y, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                                    int64_t ow, int dtype, void *stream) {
  int64_t in_total, total;
  if (n < 0 || h < 0 || w < 0 || c < 0 || oh < 0 || ow < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (!mul_ok(n, oh, &total) || !mul_ok(total, ow, &total) || !mul_ok(total, c, &total)) return cudaErrorInvalidValue;
  if (!mul_ok(n, h, &in_total) || !mul_ok(in_total, w, &in_total) || !mul_ok(in_total, c, &in_total)) {
    return cudaErrorInvalidValue;
  }
  if (total == 0) return cudaSuccess;
  if (h == 0 || w == 0) return cudaErrorInvalidValue;  // a non-empty output needs a source pixel
  if (!x || !y) return cudaErrorInvalidValue;
  // Host-side fp32 division, IEEE (the host compiler has no fast-math): PyTorch's (float) in / out.
  const float ratio_h = (float)h / (float)oh, ratio_w = (float)w / (float)ow;
  cudaStream_t st = as_stream(stream);
  return dispatch_bits(dtype, [&](auto t) {
    using U = typename decltype(t)::type;
    const U *px = static_cast<const U *>(x);
    U *py = static_cast<U *>(y);
    if (fits_u32(total) && fits_u32(in_total)) {
      upsample_nearest_kernel<U, uint32_t><<<blocks_for(total), kThreads, 0, st>>>(
          px, py, (uint32_t)total, (uint32_t)h, (uint32_t)w, (uint32_t)c, (uint32_t)oh, (uint32_t)ow, ratio_h, ratio_w);
    } else {
      upsample_nearest_kernel<U, int64_t><<<blocks_for(total), kThreads, 0, st>>>(px, py, total, h, w, c, oh, ow,
                                                                                  ratio_h, ratio_w);
    }
    return launched();
  });
}

extern "C" int sdj_pad2d(const void *x, void *y, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                         int64_t bottom, int64_t left, int64_t right, int dtype, void *stream) {
  int64_t oh, ow, total, in_total;
  if (n < 0 || h < 0 || w < 0 || c < 0 || top < 0 || bottom < 0 || left < 0 || right < 0 || !valid_dtype(dtype)) {
    return cudaErrorInvalidValue;
  }
  if (!add_ok(h, top, &oh) || !add_ok(oh, bottom, &oh) || !add_ok(w, left, &ow) || !add_ok(ow, right, &ow)) {
    return cudaErrorInvalidValue;
  }
  if (!mul_ok(n, oh, &total) || !mul_ok(total, ow, &total) || !mul_ok(total, c, &total)) return cudaErrorInvalidValue;
  if (!mul_ok(n, h, &in_total) || !mul_ok(in_total, w, &in_total) || !mul_ok(in_total, c, &in_total)) {
    return cudaErrorInvalidValue;
  }
  if (total == 0) return cudaSuccess;
  if (!y || (in_total > 0 && !x)) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_bits(dtype, [&](auto t) {
    using U = typename decltype(t)::type;
    const U *px = static_cast<const U *>(x);
    U *py = static_cast<U *>(y);
    if (fits_u32(total)) {  // every index (top + h <= oh, left + w <= ow, the input) is below total
      pad2d_kernel<U, uint32_t><<<blocks_for(total), kThreads, 0, st>>>(px, py, (uint32_t)total, (uint32_t)h,
                                                                         (uint32_t)w, (uint32_t)c, (uint32_t)oh,
                                                                         (uint32_t)ow, (uint32_t)top, (uint32_t)left);
    } else {
      pad2d_kernel<U, int64_t><<<blocks_for(total), kThreads, 0, st>>>(px, py, total, h, w, c, oh, ow, top, left);
    }
    return launched();
  });
}

extern "C" int sdj_concat_channels(const void *a, const void *b, void *y, int64_t rows, int64_t ca, int64_t cb,
                                   int dtype, void *stream) {
  int64_t cy, total;
  if (rows < 0 || ca < 0 || cb < 0 || !valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (!add_ok(ca, cb, &cy) || !mul_ok(rows, cy, &total)) return cudaErrorInvalidValue;
  if (total == 0) return cudaSuccess;
  if (!y || (ca > 0 && !a) || (cb > 0 && !b)) return cudaErrorInvalidValue;
  cudaStream_t st = as_stream(stream);
  return dispatch_bits(dtype, [&](auto t) {
    using U = typename decltype(t)::type;
    const U *pa = static_cast<const U *>(a), *pb = static_cast<const U *>(b);
    U *py = static_cast<U *>(y);
    if (fits_u32(total)) {
      concat_kernel<U, uint32_t><<<blocks_for(total), kThreads, 0, st>>>(pa, pb, py, (uint32_t)total, (uint32_t)ca,
                                                                          (uint32_t)cb);
    } else {
      concat_kernel<U, int64_t><<<blocks_for(total), kThreads, 0, st>>>(pa, pb, py, total, ca, cb);
    }
    return launched();
  });
}
