package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked GEMM micro-kernel and the packing it reads. An MR×NR tile of C lives in
 * 2·MR vector registers (12 of the 32 zmm registers with AVX-512, NR = 32 floats); each depth
 * step loads two vectors of packed B, broadcasts MR packed A values and issues 2·MR independent
 * FMAs, enough chains to cover FMA latency on both pipes. Packed panels are float[] so the loop
 * is two array streams whose bounds checks C2 hoists.
 *
 * <p>Shapes measured on one Zen 4 core (kernel alone, data in cache): 6×32, 8×32, 12×32, 4×48,
 * 8×48, 4×64 and 6×64 all run at 112–115 GFLOP/s, the core's FMA peak, so the shape was chosen
 * for edges and packing: 6 rows waste little on short A, 32 columns little on n = 77 or 40, and
 * six rows interleave with a fixed set of permutes ({@link #interleave}). Broadcasting from an
 * MR-interleaved A panel measured 7 % faster than from MR separate row streams.
 */
final class GemmKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Floats per vector: 16 with AVX-512, 8 with AVX2. */
    static final int VL = S.length();
    /** Rows of a micro-tile (broadcast A values). */
    static final int MR = 6;
    /** Columns of a micro-tile: two vectors. */
    static final int NR = 2 * VL;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * Index tables (lane values are indices into two concatenated vectors) for {@link #interleave}.
     * PAIR_LO/HI zip rows 2i and 2i+1 of depth 0 … VL/2−1 and VL/2 … VL−1 into (row, row) pairs;
     * OUT_A[q] picks the lanes of output vector q that come from the first two pair vectors,
     * OUT_B[q] keeps those and adds the lanes of the third.
     */
    private static final FloatVector PAIR_LO, PAIR_HI;
    private static final FloatVector[] OUT_A = new FloatVector[MR], OUT_B = new FloatVector[MR];

    static {
        float[] lo = new float[VL], hi = new float[VL];
        for (int i = 0; i < VL / 2; i++) {
            for (int b = 0; b < 2; b++) {
                lo[2 * i + b] = b * VL + i;
                hi[2 * i + b] = b * VL + VL / 2 + i;
            }
        }
        PAIR_LO = FloatVector.fromArray(S, lo, 0);
        PAIR_HI = FloatVector.fromArray(S, hi, 0);
        for (int q = 0; q < MR; q++) {
            float[] ia = new float[VL], ib = new float[VL];
            for (int lane = 0; lane < VL; lane++) {
                int o = VL * q + lane, p = o / MR, r = o % MR, pairVec = r / 2, l = 2 * (p % (VL / 2)) + r % 2;
                ia[lane] = pairVec == 0 ? l : pairVec == 1 ? VL + l : 0;
                ib[lane] = pairVec == 2 ? VL + l : lane;
            }
            OUT_A[q] = FloatVector.fromArray(S, ia, 0);
            OUT_B[q] = FloatVector.fromArray(S, ib, 0);
        }
    }

    private GemmKernel() {}

    /**
     * tile[to + r·NR + j] = Σp ap[ao + p·MR + r] · bp[bo + p·NR + j]: one MR×NR product of packed
     * micro-panels (zero-padded to full MR and NR, so the loop never branches). The tile goes to
     * a small array rather than straight to C: an epilogue inlined six times (alpha, beta, bias,
     * masks, MemorySegment) blows C2's inlining budget, after which the vector operations are no
     * longer intrinsified and the kernel runs ten times slower. {@link #update} finishes the job.
     */
    static void kernel(float[] ap, int ao, MemorySegment bp, long bo, int kc, float[] tile, int to) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        long b = bo * Float.BYTES;
        for (int p = 0; p < kc; p++, b += NR * Float.BYTES) {
            int a = ao + p * MR;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, b, LE), b1 = FloatVector.fromMemorySegment(S, bp, b + VL * Float.BYTES, LE);
            FloatVector a0 = FloatVector.broadcast(S, ap[a + 0]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[a + 1]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[a + 2]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[a + 3]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[a + 4]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[a + 5]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
        }
        c00.intoArray(tile, to + 0 * NR);
        c01.intoArray(tile, to + 0 * NR + VL);
        c10.intoArray(tile, to + 1 * NR);
        c11.intoArray(tile, to + 1 * NR + VL);
        c20.intoArray(tile, to + 2 * NR);
        c21.intoArray(tile, to + 2 * NR + VL);
        c30.intoArray(tile, to + 3 * NR);
        c31.intoArray(tile, to + 3 * NR + VL);
        c40.intoArray(tile, to + 4 * NR);
        c41.intoArray(tile, to + 4 * NR + VL);
        c50.intoArray(tile, to + 5 * NR);
        c51.intoArray(tile, to + 5 * NR + VL);
    }

    /**
     * The same for a right-edge panel of at most VL columns: only the first vector of each packed B
     * row is used (the rest is zero padding), which halves the work there (n = 77 → 32 + 32 + 13).
     */
    static void kernelHalf(float[] ap, int ao, MemorySegment bp, long bo, int kc, float[] tile, int to) {
        FloatVector c0 = FloatVector.zero(S);
        FloatVector c1 = FloatVector.zero(S);
        FloatVector c2 = FloatVector.zero(S);
        FloatVector c3 = FloatVector.zero(S);
        FloatVector c4 = FloatVector.zero(S);
        FloatVector c5 = FloatVector.zero(S);
        long b = bo * Float.BYTES;
        for (int p = 0; p < kc; p++, b += NR * Float.BYTES) {
            int a = ao + p * MR;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, b, LE);
            c0 = FloatVector.broadcast(S, ap[a + 0]).fma(b0, c0);
            c1 = FloatVector.broadcast(S, ap[a + 1]).fma(b0, c1);
            c2 = FloatVector.broadcast(S, ap[a + 2]).fma(b0, c2);
            c3 = FloatVector.broadcast(S, ap[a + 3]).fma(b0, c3);
            c4 = FloatVector.broadcast(S, ap[a + 4]).fma(b0, c4);
            c5 = FloatVector.broadcast(S, ap[a + 5]).fma(b0, c5);
        }
        c0.intoArray(tile, to + 0 * NR);
        c1.intoArray(tile, to + 1 * NR);
        c2.intoArray(tile, to + 2 * NR);
        c3.intoArray(tile, to + 3 * NR);
        c4.intoArray(tile, to + 4 * NR);
        c5.intoArray(tile, to + 5 * NR);
    }

    /** Half a vector: 8 floats with AVX-512 (a ymm register), for a right-edge panel of at most VL/2 columns. */
    private static final VectorSpecies<Float> HALF = VectorSpecies.of(float.class, jdk.incubator.vector.VectorShape.forBitSize(S.vectorBitSize() / 2));

    /**
     * The same for at most VL/2 columns (n = 40 → 32 + 8, attention's P·V with SD1.5's head
     * dim): half-width vectors, which cost half a full-width FMA on cores that split 512-bit
     * operations (Zen 4) and no more than a full one elsewhere.
     */
    static void kernelQuarter(float[] ap, int ao, MemorySegment bp, long bo, int kc, float[] tile, int to) {
        FloatVector c0 = FloatVector.zero(HALF);
        FloatVector c1 = FloatVector.zero(HALF);
        FloatVector c2 = FloatVector.zero(HALF);
        FloatVector c3 = FloatVector.zero(HALF);
        FloatVector c4 = FloatVector.zero(HALF);
        FloatVector c5 = FloatVector.zero(HALF);
        long b = bo * Float.BYTES;
        for (int p = 0; p < kc; p++, b += NR * Float.BYTES) {
            int a = ao + p * MR;
            FloatVector b0 = FloatVector.fromMemorySegment(HALF, bp, b, LE);
            c0 = FloatVector.broadcast(HALF, ap[a + 0]).fma(b0, c0);
            c1 = FloatVector.broadcast(HALF, ap[a + 1]).fma(b0, c1);
            c2 = FloatVector.broadcast(HALF, ap[a + 2]).fma(b0, c2);
            c3 = FloatVector.broadcast(HALF, ap[a + 3]).fma(b0, c3);
            c4 = FloatVector.broadcast(HALF, ap[a + 4]).fma(b0, c4);
            c5 = FloatVector.broadcast(HALF, ap[a + 5]).fma(b0, c5);
        }
        c0.intoArray(tile, to + 0 * NR);
        c1.intoArray(tile, to + 1 * NR);
        c2.intoArray(tile, to + 2 * NR);
        c3.intoArray(tile, to + 3 * NR);
        c4.intoArray(tile, to + 4 * NR);
        c5.intoArray(tile, to + 5 * NR);
    }

    /**
     * C tile (mv ≤ MR rows, nv ≤ NR columns at element cIdx, ldc) = alpha · tile + beta · C
     * (+ bias[jb …]) on the first K block, C += alpha · tile on later ones. One straight loop with
     * no FloatVector crossing a call: a vector passed to a method C2 does not inline is boxed,
     * and that alone once cost as much as the micro-kernel.
     *
     * <p>C given as a heap array ({@code ca}, element cIdx at ca[caStart + cIdx]) is accessed as an
     * array, never through {@code FloatVector.fromMemorySegment}: the JDK's segment loads share one
     * type profile in the whole JVM, and once it has seen heap segments beside the native packed B,
     * C2 compiles the micro-kernel's B loads with a type switch, 30 % slower. Otherwise C is the
     * segment {@code c}.
     */
    static void update(float[] tile, int to, float[] ca, long caStart, MemorySegment c, long cIdx, int ldc, int mv, int nv,
                       float alpha, float beta, boolean first, float[] bias, int jb) {
        // beta == 0 on the first K block: C is write-only, so NaN or garbage there never leaks in.
        boolean readC = !first || beta != 0;
        float cScale = first ? beta : 1f;
        float[] b = first ? bias : null;
        // Four small methods rather than one: C2 stops intrinsifying the vector operations of a
        // method that grows too large, and then this epilogue runs ten times slower.
        if (ca != null) {
            if (nv == NR) updateArray(tile, to, ca, (int) (caStart + cIdx), ldc, mv, alpha, readC, cScale, b, jb);
            else updateArrayEdge(tile, to, ca, (int) (caStart + cIdx), ldc, mv, nv, alpha, readC, cScale, b, jb);
        } else {
            if (nv == NR) updateSegment(tile, to, c, cIdx, ldc, mv, alpha, readC, cScale, b, jb);
            else updateSegmentEdge(tile, to, c, cIdx, ldc, mv, nv, alpha, readC, cScale, b, jb);
        }
    }

    private static void updateArray(float[] tile, int to, float[] ca, int row, int ldc, int mv, float alpha, boolean readC,
                                    float beta, float[] bias, int jb) {
        FloatVector scale = FloatVector.broadcast(S, alpha), cScale = FloatVector.broadcast(S, beta);
        FloatVector bias0 = bias != null ? FloatVector.fromArray(S, bias, jb) : FloatVector.zero(S);
        FloatVector bias1 = bias != null ? FloatVector.fromArray(S, bias, jb + VL) : FloatVector.zero(S);
        for (int r = 0, t = to; r < mv; r++, t += NR, row += ldc) {
            FloatVector v0 = FloatVector.fromArray(S, tile, t).fma(scale, bias0);
            FloatVector v1 = FloatVector.fromArray(S, tile, t + VL).fma(scale, bias1);
            if (readC) {
                v0 = FloatVector.fromArray(S, ca, row).fma(cScale, v0);
                v1 = FloatVector.fromArray(S, ca, row + VL).fma(cScale, v1);
            }
            v0.intoArray(ca, row);
            v1.intoArray(ca, row + VL);
        }
    }

    /** Right edge: masked lanes are neither read nor written (C may end right there). */
    private static void updateArrayEdge(float[] tile, int to, float[] ca, int row, int ldc, int mv, int nv, float alpha,
                                        boolean readC, float beta, float[] bias, int jb) {
        FloatVector scale = FloatVector.broadcast(S, alpha), cScale = FloatVector.broadcast(S, beta);
        FloatVector bias0 = bias != null ? FloatVector.fromArray(S, bias, jb) : FloatVector.zero(S);
        FloatVector bias1 = bias != null ? FloatVector.fromArray(S, bias, jb + VL) : FloatVector.zero(S);
        VectorMask<Float> m0 = S.indexInRange(0, nv), m1 = S.indexInRange(VL, nv);
        boolean two = nv > VL;
        for (int r = 0, t = to; r < mv; r++, t += NR, row += ldc) {
            FloatVector v0 = FloatVector.fromArray(S, tile, t).fma(scale, bias0);
            if (readC) v0 = FloatVector.fromArray(S, ca, row, m0).fma(cScale, v0);
            v0.intoArray(ca, row, m0);
            if (two) {
                FloatVector v1 = FloatVector.fromArray(S, tile, t + VL).fma(scale, bias1);
                if (readC) v1 = FloatVector.fromArray(S, ca, row + VL, m1).fma(cScale, v1);
                v1.intoArray(ca, row + VL, m1);
            }
        }
    }

    private static void updateSegment(float[] tile, int to, MemorySegment c, long cIdx, int ldc, int mv, float alpha, boolean readC,
                                      float beta, float[] bias, int jb) {
        FloatVector scale = FloatVector.broadcast(S, alpha), cScale = FloatVector.broadcast(S, beta);
        FloatVector bias0 = bias != null ? FloatVector.fromArray(S, bias, jb) : FloatVector.zero(S);
        FloatVector bias1 = bias != null ? FloatVector.fromArray(S, bias, jb + VL) : FloatVector.zero(S);
        long row = cIdx * Float.BYTES, step = (long) ldc * Float.BYTES, second = (long) VL * Float.BYTES;
        for (int r = 0, t = to; r < mv; r++, t += NR, row += step) {
            FloatVector v0 = FloatVector.fromArray(S, tile, t).fma(scale, bias0);
            FloatVector v1 = FloatVector.fromArray(S, tile, t + VL).fma(scale, bias1);
            if (readC) {
                v0 = FloatVector.fromMemorySegment(S, c, row, LE).fma(cScale, v0);
                v1 = FloatVector.fromMemorySegment(S, c, row + second, LE).fma(cScale, v1);
            }
            v0.intoMemorySegment(c, row, LE);
            v1.intoMemorySegment(c, row + second, LE);
        }
    }

    private static void updateSegmentEdge(float[] tile, int to, MemorySegment c, long cIdx, int ldc, int mv, int nv, float alpha,
                                          boolean readC, float beta, float[] bias, int jb) {
        FloatVector scale = FloatVector.broadcast(S, alpha), cScale = FloatVector.broadcast(S, beta);
        FloatVector bias0 = bias != null ? FloatVector.fromArray(S, bias, jb) : FloatVector.zero(S);
        FloatVector bias1 = bias != null ? FloatVector.fromArray(S, bias, jb + VL) : FloatVector.zero(S);
        long row = cIdx * Float.BYTES, step = (long) ldc * Float.BYTES, second = (long) VL * Float.BYTES;
        VectorMask<Float> m0 = S.indexInRange(0, nv), m1 = S.indexInRange(VL, nv);
        boolean two = nv > VL;
        for (int r = 0, t = to; r < mv; r++, t += NR, row += step) {
            FloatVector v0 = FloatVector.fromArray(S, tile, t).fma(scale, bias0);
            if (readC) v0 = FloatVector.fromMemorySegment(S, c, row, LE, m0).fma(cScale, v0);
            v0.intoMemorySegment(c, row, LE, m0);
            if (two) {
                FloatVector v1 = FloatVector.fromArray(S, tile, t + VL).fma(scale, bias1);
                if (readC) v1 = FloatVector.fromMemorySegment(S, c, row + second, LE, m1).fma(cScale, v1);
                v1.intoMemorySegment(c, row + second, LE, m1);
            }
        }
    }

    /**
     * dst[dOff + p·MR + r] = src[sOff + r·stride + p] for r &lt; rows and p &lt; kc, 0 for rows ≤ r
     * &lt; MR: row-major rows (in a heap array, or first copied in bulk to scratch) into the
     * micro-kernel's A order. Reading a MemorySegment element by element here would be 3–6×
     * slower.
     */
    static void interleave(float[] src, int sOff, int stride, int kc, int rows, float[] dst, int dOff) {
        if (rows == MR) {
            int s0 = sOff, s1 = s0 + stride, s2 = s1 + stride, s3 = s2 + stride, s4 = s3 + stride, s5 = s4 + stride;
            int p = 0, d = dOff;
            if (VL == 16) {
                // A 6×16 block becomes 96 consecutive floats in 18 two-table permutes (vpermi2ps):
                // 2.3× faster than moving floats one by one, which matters when n is small and
                // packing A is a large part of the work (attention's P·V, n = 40).
                FloatVector lo = PAIR_LO, hi = PAIR_HI;
                FloatVector a0 = OUT_A[0], a1 = OUT_A[1], a2 = OUT_A[2], a3 = OUT_A[3], a4 = OUT_A[4], a5 = OUT_A[5];
                FloatVector b0 = OUT_B[0], b1 = OUT_B[1], b2 = OUT_B[2], b3 = OUT_B[3], b4 = OUT_B[4], b5 = OUT_B[5];
                for (; p + VL <= kc; p += VL, d += MR * VL) {
                    FloatVector r0 = FloatVector.fromArray(S, src, s0 + p), r1 = FloatVector.fromArray(S, src, s1 + p);
                    FloatVector r2 = FloatVector.fromArray(S, src, s2 + p), r3 = FloatVector.fromArray(S, src, s3 + p);
                    FloatVector r4 = FloatVector.fromArray(S, src, s4 + p), r5 = FloatVector.fromArray(S, src, s5 + p);
                    // Rows 2i, 2i+1 → (r2i[p], r2i+1[p]) pairs, depth 0–7 in x0, 8–15 in x1.
                    FloatVector x0 = lo.selectFrom(r0, r1), x1 = hi.selectFrom(r0, r1);
                    FloatVector y0 = lo.selectFrom(r2, r3), y1 = hi.selectFrom(r2, r3);
                    FloatVector z0 = lo.selectFrom(r4, r5), z1 = hi.selectFrom(r4, r5);
                    // Each output vector takes its lanes from the three pair vectors of its half.
                    b0.selectFrom(a0.selectFrom(x0, y0), z0).intoArray(dst, d);
                    b1.selectFrom(a1.selectFrom(x0, y0), z0).intoArray(dst, d + VL);
                    b2.selectFrom(a2.selectFrom(x0, y0), z0).intoArray(dst, d + 2 * VL);
                    b3.selectFrom(a3.selectFrom(x1, y1), z1).intoArray(dst, d + 3 * VL);
                    b4.selectFrom(a4.selectFrom(x1, y1), z1).intoArray(dst, d + 4 * VL);
                    b5.selectFrom(a5.selectFrom(x1, y1), z1).intoArray(dst, d + 5 * VL);
                }
            }
            for (; p < kc; p++, d += MR) {
                dst[d] = src[s0 + p];
                dst[d + 1] = src[s1 + p];
                dst[d + 2] = src[s2 + p];
                dst[d + 3] = src[s3 + p];
                dst[d + 4] = src[s4 + p];
                dst[d + 5] = src[s5 + p];
            }
            return;
        }
        for (int p = 0, d = dOff; p < kc; p++, d += MR) {
            for (int r = 0; r < rows; r++) dst[d + r] = src[sOff + r * stride + p];
            for (int r = rows; r < MR; r++) dst[d + r] = 0;
        }
    }

    /**
     * Packs depth p0 … p0+kc−1 and columns j0 … j0+cols−1 (cols ≤ NR) of op(B) into
     * dst[dOff + p·NR + j], zero-padding columns cols … NR−1. B is k×n (ldb) or, with transB,
     * n×k (weights stored out×in, as Linear and Conv2d keep them). The transposed case reads a
     * heap B in place, a native one after copying each column's run to scratch (NR·kc floats).
     */
    static void packB(MemorySegment dst, long dOff, MemorySegment b, long bOff, int ldb, boolean transB, int p0, int kc, int j0,
                      int cols, float[] scratch) {
        // Separate small methods: C2 stops intrinsifying the vector operations of a method that
        // grows too large (this one did: 10× slower packing, in every attention head).
        float[] heap = Gemm.heapFloats(b);
        if (!transB) {
            if (heap != null) packRowsHeap(dst, dOff, heap, (int) (Gemm.heapIndex(b) + bOff), ldb, p0, kc, j0, cols);
            else packRowsSegment(dst, dOff, b, bOff, ldb, p0, kc, j0, cols);
            return;
        }
        int s0, stride;
        float[] src = heap;
        if (src != null) {
            s0 = (int) (Gemm.heapIndex(b) + bOff + (long) j0 * ldb + p0);
            stride = ldb;
        } else {
            for (int j = 0; j < cols; j++) {
                MemorySegment.copy(b, Gemm.F, (bOff + (long) (j0 + j) * ldb + p0) * Float.BYTES, scratch, j * kc, kc);
            }
            src = scratch;
            s0 = 0;
            stride = kc;
        }
        if (cols == NR) packColumnsGather(dst, dOff, src, s0, stride, kc);
        else packColumnsScalar(dst, dOff, src, s0, stride, kc, cols);
    }

    /** Row p of the panel is NR contiguous floats of B's row p0 + p (masked past cols: zero padding); a heap B as an array (see update()). */
    private static void packRowsHeap(MemorySegment dst, long dOff, float[] b, int bStart, int ldb, int p0, int kc, int j0, int cols) {
        long dBytes = dOff * Float.BYTES, rowBytes = (long) NR * Float.BYTES, second = (long) VL * Float.BYTES;
        VectorMask<Float> m0 = S.indexInRange(0, cols), m1 = S.indexInRange(VL, cols);
        for (int p = 0; p < kc; p++) {
            int s = bStart + (p0 + p) * ldb + j0;
            long d = dBytes + p * rowBytes;
            FloatVector.fromArray(S, b, s, m0).intoMemorySegment(dst, d, LE);
            FloatVector.fromArray(S, b, s + VL, m1).intoMemorySegment(dst, d + second, LE);
        }
    }

    private static void packRowsSegment(MemorySegment dst, long dOff, MemorySegment b, long bOff, int ldb, int p0, int kc, int j0,
                                        int cols) {
        long dBytes = dOff * Float.BYTES, rowBytes = (long) NR * Float.BYTES, second = (long) VL * Float.BYTES;
        // Masked lanes read nothing (B may end right there) and come out as zero padding.
        VectorMask<Float> m0 = S.indexInRange(0, cols), m1 = S.indexInRange(VL, cols);
        for (int p = 0; p < kc; p++) {
            long s = (bOff + (long) (p0 + p) * ldb + j0) * Float.BYTES;
            long d = dBytes + p * rowBytes;
            FloatVector.fromMemorySegment(S, b, s, LE, m0).intoMemorySegment(dst, d, LE);
            FloatVector.fromMemorySegment(S, b, s + second, LE, m1).intoMemorySegment(dst, d + second, LE);
        }
    }

    /**
     * Row p of the panel is column p of the NR rows: two gathers (vgatherdps), which beat scalar
     * transposition of the short, strided columns by about 1.5×.
     */
    private static void packColumnsGather(MemorySegment dst, long dOff, float[] src, int s0, int stride, int kc) {
        long dBytes = dOff * Float.BYTES, rowBytes = (long) NR * Float.BYTES, second = (long) VL * Float.BYTES;
        int[] map = new int[NR];
        for (int j = 0; j < NR; j++) map[j] = j * stride;
        for (int p = 0; p < kc; p++) {
            long d = dBytes + p * rowBytes;
            FloatVector.fromArray(S, src, s0 + p, map, 0).intoMemorySegment(dst, d, LE);
            FloatVector.fromArray(S, src, s0 + p, map, VL).intoMemorySegment(dst, d + second, LE);
        }
    }

    private static void packColumnsScalar(MemorySegment dst, long dOff, float[] src, int s0, int stride, int kc, int cols) {
        float[] row = new float[NR];
        for (int p = 0; p < kc; p++) {
            for (int j = 0; j < cols; j++) row[j] = src[s0 + j * stride + p];
            MemorySegment.copy(row, 0, dst, Gemm.F, (dOff + (long) p * NR) * Float.BYTES, NR);
        }
    }
}
