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
        forward(x, n, h, w, cin, weight, null, cout, kh, kw, bias, strideH, strideW, padH, padW, out);
    }

    /** The same with the weight already packed as the GEMM's B operand ({@code packed}; weight is then only checked). */
    static void forward(MemorySegment x, int n, int h, int w, int cin, MemorySegment weight, Gemm.PackedB packed,
                        int cout, int kh, int kw, MemorySegment bias,
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
        if (packed != null) Gemm.run(pixels, cout, depth, 1f, a, packed, 0f, b, out, 0, cout, true);
        else Gemm.run(pixels, cout, depth, 1f, a, weight, 0, depth, true, 0f, b, out, 0, cout, true);
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

    // ---- Winograd F(2×2, 3×3) ------------------------------------------------------------------

    /**
     * Output tiles (2×2 pixels each, over all images) from which a stride-1 3×3 convolution goes
     * through {@link #winograd}: each of its 16 GEMMs has this many rows, and below a few dozen
     * the 16/9 larger transformed weights cost more to stream than the multiplications saved.
     * Not final so that a benchmark can move it (system property sdj.cpu.winogradMinTiles);
     * {@code -Dsdj.cpu.winograd=false} turns Winograd off (every convolution direct).
     */
    static int winogradMinTiles = Boolean.parseBoolean(System.getProperty("sdj.cpu.winograd", "true"))
            ? Integer.getInteger("sdj.cpu.winogradMinTiles", 8) : Integer.MAX_VALUE;
    /** Input channels below this stay direct (conv_in has 4: a K of 4 would waste the GEMM). */
    static final int WINOGRAD_MIN_CIN = 16;

    /** Whether {@link #winograd} takes this convolution (3×3, stride 1, any padding). */
    static boolean winogradApplies(int n, int ho, int wo, int cin, int kh, int kw, int strideH, int strideW) {
        if (kh != 3 || kw != 3 || strideH != 1 || strideW != 1 || cin < WINOGRAD_MIN_CIN) return false;
        long tiles = (long) n * ((ho + 1) / 2) * ((wo + 1) / 2);
        return tiles >= winogradMinTiles && tiles * 16L * Math.max(cin, 1) < Integer.MAX_VALUE / 2;
    }

    /**
     * A 3×3 weight (cout, 3, 3, cin) as Winograd's 16 matrices U_ξ = G·g·Gᵀ (ξ = 4·i + j, each
     * cin × cout, as the GEMM's packed B), G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
     * The transformed weights take 16/9 of the weight's memory.
     */
    static Gemm.PackedB[] winogradWeights(MemorySegment weight, int cout, int cin) {
        Gemm.checkMatrix("weight", weight, 0, cout, 9 * cin, 9 * cin);
        Gemm.PackedB[] u = new Gemm.PackedB[16];
        for (int e = 0; e < 16; e++) u[e] = Gemm.allocate(cout, cin);
        float[] heap = Gemm.heapFloats(weight);
        long heapStart = heap == null ? 0 : Gemm.heapIndex(weight);
        Parallel.forRange(cout, 1, (c0, c1) -> {
            float[] g = new float[9 * cin];
            float[] t = new float[12];
            for (int co = c0; co < c1; co++) {
                if (heap != null) System.arraycopy(heap, (int) (heapStart + (long) co * 9 * cin), g, 0, 9 * cin);
                else MemorySegment.copy(weight, F, (long) co * 9 * cin * Float.BYTES, g, 0, 9 * cin);
                for (int ci = 0; ci < cin; ci++) {
                    // t (4×3) = G · g: rows of the kernel combined.
                    for (int kx = 0; kx < 3; kx++) {
                        float g0 = g[kx * cin + ci], g1 = g[(3 + kx) * cin + ci], g2 = g[(6 + kx) * cin + ci];
                        t[kx] = g0;
                        t[3 + kx] = 0.5f * (g0 + g1 + g2);
                        t[6 + kx] = 0.5f * (g0 - g1 + g2);
                        t[9 + kx] = g2;
                    }
                    // U (4×4) = t · Gᵀ: columns combined.
                    for (int i = 0; i < 4; i++) {
                        float a0 = t[3 * i], a1 = t[3 * i + 1], a2 = t[3 * i + 2];
                        store(u[4 * i], ci, co, a0);
                        store(u[4 * i + 1], ci, co, 0.5f * (a0 + a1 + a2));
                        store(u[4 * i + 2], ci, co, 0.5f * (a0 - a1 + a2));
                        store(u[4 * i + 3], ci, co, a2);
                    }
                }
            }
        });
        return u;
    }

    private static void store(Gemm.PackedB b, int p, int j, float v) {
        b.data.setAtIndex(F, Gemm.packedIndex(b, p, j), v);
    }

    private static final jdk.incubator.vector.VectorSpecies<Float> VS = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
    private static final ThreadLocal<float[]> WINO_V = new ThreadLocal<>();
    private static final ThreadLocal<float[]> WINO_M = new ThreadLocal<>();

    /**
     * out (n, ho, wo, cout) = conv3×3(x, weight) + bias, stride 1, padding (padH, padW), by
     * Winograd's F(2×2, 3×3): each 4×4 input tile (stride 2) becomes V = Bᵀ·d·B, the 16 products
     * M_ξ (tiles × cout) = V_ξ (tiles × cin) · U_ξ are plain GEMMs (one task each), and each output
     * 2×2 tile is Aᵀ·m·A + bias. 16 multiply-adds per 2×2 outputs and channel pair instead of
     * 36: 2.25× fewer. The transforms are additions only (coefficients 0, ±½, ±1); the rounding
     * error is about 4× a direct sum's (relative 5e-6 against 1.4e-6 at 320 channels), where
     * F(4×4, 3×3) would be 15× (2e-5): too much for the reference backend.
     */
    static void winograd(MemorySegment x, int n, int h, int w, int cin, Gemm.PackedB[] u, int cout, MemorySegment bias,
                         int padH, int padW, float[] out) {
        int ho = outSize(h, 3, 1, padH), wo = outSize(w, 3, 1, padW);
        int th = (ho + 1) / 2, tw = (wo + 1) / 2, tiles = n * th * tw;
        Gemm.checkMatrix("x", x, 0, Math.multiplyExact(n, h), Math.multiplyExact(w, cin), w * cin);
        float[] xs = Gemm.heapFloats(x);
        int xStart = xs == null ? 0 : (int) Gemm.heapIndex(x);
        if (xs == null) {
            xs = new float[Math.multiplyExact(n * h, w * cin)];
            MemorySegment.copy(x, F, 0, xs, 0, xs.length);
        }
        float[] b = new float[cout];
        if (bias != null) MemorySegment.copy(bias, F, 0, b, 0, cout);
        float[] v = borrow(WINO_V, 16 * tiles * cin), m = borrow(WINO_M, 16 * tiles * cout);
        try {
            float[] xa = xs;
            int xOff = xStart;
            Parallel.forRange(tiles, Math.max(1, 4096 / cin), (t0, t1) -> inputTransform(xa, xOff, h, w, cin, padH, padW, th, tw, tiles, t0, t1, v));
            MemorySegment vs = MemorySegment.ofArray(v), ms = MemorySegment.ofArray(m);
            Parallel.forEach(16, e -> Gemm.run(tiles, cout, cin, 1f, new Gemm.MatrixA(vs, (long) e * tiles * cin, cin, false), u[e],
                    0f, null, ms, (long) e * tiles * cout, cout, false));
            Parallel.forRange(tiles, Math.max(1, 4096 / cout), (t0, t1) -> outputTransform(m, ho, wo, cout, th, tw, tiles, b, t0, t1, out));
        } finally {
            giveBack(WINO_V, v);
            giveBack(WINO_M, m);
        }
    }

    private static float[] borrow(ThreadLocal<float[]> slot, int size) {
        float[] buf = slot.get();
        if (buf == null || buf.length < size) return new float[size];
        slot.set(null);
        return buf;
    }

    private static void giveBack(ThreadLocal<float[]> slot, float[] buf) {
        float[] cur = slot.get();
        if (cur == null || cur.length < buf.length) slot.set(buf);
    }

    /** V[ξ][t][c] = (Bᵀ·d·B)_ξ for tiles t0 … t1−1, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]. */
    private static void inputTransform(float[] x, int xOff, int h, int w, int cin, int padH, int padW, int th, int tw, int tiles,
                                       int t0, int t1, float[] v) {
        float[] zero = new float[cin];
        int[] src = new int[16];
        float[][] rows = new float[16][];
        long plane = (long) tiles * cin;
        for (int t = t0; t < t1; t++) {
            int img = t / (th * tw), rem = t - img * th * tw, ty = rem / tw, tx = rem - ty * tw;
            int y0 = 2 * ty - padH, x0 = 2 * tx - padW;
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    int iy = y0 + i, ix = x0 + j;
                    boolean in = iy >= 0 && iy < h && ix >= 0 && ix < w;
                    rows[4 * i + j] = in ? x : zero;
                    src[4 * i + j] = in ? xOff + ((img * h + iy) * w + ix) * cin : 0;
                }
            }
            int dst = t * cin;
            int c = 0;
            for (int upper = VS.loopBound(cin); c < upper; c += VS.length()) {
                jdk.incubator.vector.FloatVector d00 = ld(rows, src, 0, c), d01 = ld(rows, src, 1, c), d02 = ld(rows, src, 2, c), d03 = ld(rows, src, 3, c);
                jdk.incubator.vector.FloatVector d10 = ld(rows, src, 4, c), d11 = ld(rows, src, 5, c), d12 = ld(rows, src, 6, c), d13 = ld(rows, src, 7, c);
                jdk.incubator.vector.FloatVector d20 = ld(rows, src, 8, c), d21 = ld(rows, src, 9, c), d22 = ld(rows, src, 10, c), d23 = ld(rows, src, 11, c);
                jdk.incubator.vector.FloatVector d30 = ld(rows, src, 12, c), d31 = ld(rows, src, 13, c), d32 = ld(rows, src, 14, c), d33 = ld(rows, src, 15, c);
                // Rows: r0 = d0 − d2, r1 = d1 + d2, r2 = d2 − d1, r3 = d1 − d3 (per column).
                var a0 = d00.sub(d20); var a1 = d01.sub(d21); var a2 = d02.sub(d22); var a3 = d03.sub(d23);
                var b0 = d10.add(d20); var b1 = d11.add(d21); var b2 = d12.add(d22); var b3 = d13.add(d23);
                var e0 = d20.sub(d10); var e1 = d21.sub(d11); var e2 = d22.sub(d12); var e3 = d23.sub(d13);
                var f0 = d10.sub(d30); var f1 = d11.sub(d31); var f2 = d12.sub(d32); var f3 = d13.sub(d33);
                // Columns, the same combination.
                int o = dst + c;
                a0.sub(a2).intoArray(v, o); a1.add(a2).intoArray(v, (int) (o + plane)); a2.sub(a1).intoArray(v, (int) (o + 2 * plane)); a1.sub(a3).intoArray(v, (int) (o + 3 * plane));
                b0.sub(b2).intoArray(v, (int) (o + 4 * plane)); b1.add(b2).intoArray(v, (int) (o + 5 * plane)); b2.sub(b1).intoArray(v, (int) (o + 6 * plane)); b1.sub(b3).intoArray(v, (int) (o + 7 * plane));
                e0.sub(e2).intoArray(v, (int) (o + 8 * plane)); e1.add(e2).intoArray(v, (int) (o + 9 * plane)); e2.sub(e1).intoArray(v, (int) (o + 10 * plane)); e1.sub(e3).intoArray(v, (int) (o + 11 * plane));
                f0.sub(f2).intoArray(v, (int) (o + 12 * plane)); f1.add(f2).intoArray(v, (int) (o + 13 * plane)); f2.sub(f1).intoArray(v, (int) (o + 14 * plane)); f1.sub(f3).intoArray(v, (int) (o + 15 * plane));
            }
            for (; c < cin; c++) {
                float[] d = new float[16];
                for (int q = 0; q < 16; q++) d[q] = rows[q] == zero ? 0f : x[src[q] + c];
                float[] r = new float[16];
                for (int j = 0; j < 4; j++) {
                    r[j] = d[j] - d[8 + j];
                    r[4 + j] = d[4 + j] + d[8 + j];
                    r[8 + j] = d[8 + j] - d[4 + j];
                    r[12 + j] = d[4 + j] - d[12 + j];
                }
                for (int i = 0; i < 4; i++) {
                    int o = dst + c;
                    v[(int) (o + (4 * i) * plane)] = r[4 * i] - r[4 * i + 2];
                    v[(int) (o + (4 * i + 1) * plane)] = r[4 * i + 1] + r[4 * i + 2];
                    v[(int) (o + (4 * i + 2) * plane)] = r[4 * i + 2] - r[4 * i + 1];
                    v[(int) (o + (4 * i + 3) * plane)] = r[4 * i + 1] - r[4 * i + 3];
                }
            }
        }
    }

    private static jdk.incubator.vector.FloatVector ld(float[][] rows, int[] src, int q, int c) {
        return jdk.incubator.vector.FloatVector.fromArray(VS, rows[q], src[q] + c);
    }

    /** out tile (2×2 pixels) = Aᵀ·m·A + bias for tiles t0 … t1−1, Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]; pixels past ho, wo are dropped. */
    private static void outputTransform(float[] m, int ho, int wo, int cout, int th, int tw, int tiles, float[] bias, int t0, int t1,
                                        float[] out) {
        int plane = tiles * cout;
        for (int t = t0; t < t1; t++) {
            int img = t / (th * tw), rem = t - img * th * tw, ty = rem / tw, tx = rem - ty * tw;
            int oy = 2 * ty, ox = 2 * tx;
            boolean right = ox + 1 < wo, down = oy + 1 < ho;
            int o00 = ((img * ho + oy) * wo + ox) * cout, o01 = o00 + cout, o10 = o00 + wo * cout, o11 = o10 + cout;
            int s = t * cout;
            int c = 0;
            for (int upper = VS.loopBound(cout); c < upper; c += VS.length()) {
                int q = s + c;
                var m00 = mv(m, q); var m01 = mv(m, q + plane); var m02 = mv(m, q + 2 * plane); var m03 = mv(m, q + 3 * plane);
                var m10 = mv(m, q + 4 * plane); var m11 = mv(m, q + 5 * plane); var m12 = mv(m, q + 6 * plane); var m13 = mv(m, q + 7 * plane);
                var m20 = mv(m, q + 8 * plane); var m21 = mv(m, q + 9 * plane); var m22 = mv(m, q + 10 * plane); var m23 = mv(m, q + 11 * plane);
                var m30 = mv(m, q + 12 * plane); var m31 = mv(m, q + 13 * plane); var m32 = mv(m, q + 14 * plane); var m33 = mv(m, q + 15 * plane);
                // Rows: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (per column).
                var a0 = m00.add(m10).add(m20); var a1 = m01.add(m11).add(m21); var a2 = m02.add(m12).add(m22); var a3 = m03.add(m13).add(m23);
                var b0 = m10.sub(m20).sub(m30); var b1 = m11.sub(m21).sub(m31); var b2 = m12.sub(m22).sub(m32); var b3 = m13.sub(m23).sub(m33);
                var bv = jdk.incubator.vector.FloatVector.fromArray(VS, bias, c);
                a0.add(a1).add(a2).add(bv).intoArray(out, o00 + c);
                if (right) a1.sub(a2).sub(a3).add(bv).intoArray(out, o01 + c);
                if (down) {
                    b0.add(b1).add(b2).add(bv).intoArray(out, o10 + c);
                    if (right) b1.sub(b2).sub(b3).add(bv).intoArray(out, o11 + c);
                }
            }
            for (; c < cout; c++) {
                float[] r = new float[16];
                for (int e = 0; e < 16; e++) r[e] = m[s + c + e * plane];
                float a0 = r[0] + r[4] + r[8], a1 = r[1] + r[5] + r[9], a2 = r[2] + r[6] + r[10], a3 = r[3] + r[7] + r[11];
                float b0 = r[4] - r[8] - r[12], b1 = r[5] - r[9] - r[13], b2 = r[6] - r[10] - r[14], b3 = r[7] - r[11] - r[15];
                out[o00 + c] = a0 + a1 + a2 + bias[c];
                if (right) out[o01 + c] = a1 - a2 - a3 + bias[c];
                if (down) {
                    out[o10 + c] = b0 + b1 + b2 + bias[c];
                    if (right) out[o11 + c] = b1 - b2 - b3 + bias[c];
                }
            }
        }
    }

    private static jdk.incubator.vector.FloatVector mv(float[] m, int i) {
        return jdk.incubator.vector.FloatVector.fromArray(VS, m, i);
    }
}
