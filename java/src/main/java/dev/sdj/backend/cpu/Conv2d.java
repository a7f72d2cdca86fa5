package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * 2-D convolution on host fp32, NHWC input, OHWI weights, groups = 1, as an implicit GEMM:
 * output rows are the pixels (n, oy, ox), the depth is (ky, kx, ci) and the columns are cout, so
 * out (pixels × cout) = im2col(x) (pixels × kh·kw·cin) · weightᵀ, the weight (cout, kh·kw·cin)
 * being exactly the "B transposed" operand of {@link Gemm}. The im2col matrix is never built:
 * {@link Im2col} fills each A micro-panel straight from x while the GEMM packs it, and the bias
 * is added in the GEMM's epilogue.
 */
public final class Conv2d {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Conv2d() {}

    public static int outSize(int in, int kernel, int stride, int pad) {
        return (in + 2 * pad - kernel) / stride + 1;
    }

    /** out (n, ho, wo, cout) = conv(x (n, h, w, cin), weight (cout, kh, kw, cin)) + bias (cout, nullable). */
    public static void forward(MemorySegment x, int n, int h, int w, int cin,
                               MemorySegment weight, int cout, int kh, int kw, MemorySegment bias,
                               int strideH, int strideW, int padH, int padW, MemorySegment out) {
        int ho = outSize(h, kh, strideH, padH), wo = outSize(w, kw, strideW, padW);
        if (n <= 0 || ho <= 0 || wo <= 0 || cout <= 0) return;
        int pixels = Math.multiplyExact(Math.multiplyExact(n, ho), wo);
        int depth = Math.multiplyExact(Math.multiplyExact(kh, kw), cin);
        Gemm.checkMatrix("x", x, 0, Math.multiplyExact(n, h), Math.multiplyExact(w, cin), w * cin);
        Gemm.checkMatrix("weight", weight, 0, cout, depth, depth);
        Gemm.checkMatrix("out", out, 0, pixels, cout, cout);
        if (bias != null) Gemm.checkMatrix("bias", bias, 0, 1, cout, cout);
        float[] b = null;
        if (bias != null) {
            b = new float[cout];
            MemorySegment.copy(bias, F, 0, b, 0, cout);
        }
        Gemm.APacker a;
        if (kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0) {
            // 1×1, stride 1, no padding: x itself is the (pixels × cin) A matrix.
            a = new Gemm.MatrixA(x, 0, cin, false);
        } else {
            a = new Im2col(x, h, w, cin, kw, strideH, strideW, padH, padW, ho, wo);
        }
        Gemm.run(pixels, cout, depth, 1f, a, weight, 0, depth, true, 0f, b, out, 0, cout, true);
    }

    /**
     * Fills A micro-panels of the implicit im2col matrix from NHWC x. Depth index p = (ky·kw +
     * kx)·cin + ci, so for one pixel a K range is a sequence of runs of up to cin consecutive
     * floats of x (one per tap), each copied in bulk, or zero-filled where the tap falls in the
     * padding.
     */
    static final class Im2col implements Gemm.APacker {
        /** Runs shorter than this are copied element by element from a native x: MemorySegment.copy has a fixed cost. */
        private static final int BULK_MIN = 16;
        private final MemorySegment x;
        private final int h, w, cin, kw, strideH, strideW, padH, padW, ho, wo;
        /** x's backing array when it is a heap float[] segment (System.arraycopy is cheap for short runs too), else null. */
        private final float[] heap;
        private final long heapStart;

        Im2col(MemorySegment x, int h, int w, int cin, int kw, int strideH, int strideW, int padH, int padW, int ho, int wo) {
            this.x = x;
            this.h = h;
            this.w = w;
            this.cin = cin;
            this.kw = kw;
            this.strideH = strideH;
            this.strideW = strideW;
            this.padH = padH;
            this.padW = padW;
            this.ho = ho;
            this.wo = wo;
            this.heap = Gemm.heapFloats(x);
            this.heapStart = heap == null ? 0 : Gemm.heapIndex(x);
        }

        @Override
        public void pack(float[] buf, int dOff, int sOff, int i0, int rows, int p0, int kc) {
            for (int r = 0; r < rows; r++) {
                int pix = i0 + r;
                int img = pix / (ho * wo), rem = pix - img * (ho * wo);
                int oy = rem / wo, ox = rem - oy * wo;
                int y0 = oy * strideH - padH, x0 = ox * strideW - padW;
                long imgBase = (long) img * h * w * cin;
                int tap = p0 / cin, ci = p0 - tap * cin;
                int d = sOff + r * kc, end = d + kc;
                while (d < end) {
                    int len = Math.min(cin - ci, end - d);
                    int ky = tap / kw, kx = tap - ky * kw;
                    int iy = y0 + ky, ix = x0 + kx;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                        Arrays.fill(buf, d, d + len, 0f);
                    } else {
                        long s = imgBase + ((long) iy * w + ix) * cin + ci;
                        if (heap != null) {
                            System.arraycopy(heap, (int) (heapStart + s), buf, d, len);
                        } else if (len >= BULK_MIN) {
                            MemorySegment.copy(x, F, s * Float.BYTES, buf, d, len);
                        } else {
                            for (int q = 0; q < len; q++) buf[d + q] = x.getAtIndex(F, s + q);
                        }
                    }
                    d += len;
                    tap++;
                    ci = 0;
                }
            }
            GemmKernel.interleave(buf, sOff, kc, kc, rows, buf, dOff);
        }
    }
}
