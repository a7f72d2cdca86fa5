package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.CpuTestSupport.random;
import static dev.sdj.backend.cpu.CpuTestSupport.segment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Gemm against a float64 reference on odd sizes, all transposes, offsets, strides and memory kinds. */
class GemmTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One GEMM problem: logical sizes plus how A, B, C sit in their segments. */
    private record Case(boolean transA, boolean transB, int m, int n, int k, float alpha, float beta,
                        int aOff, int bOff, int cOff, int ldaPad, int ldbPad, int ldcPad, boolean nanC) {}


    /** Runs the case through sgemm or sgemmSerial and checks every element of C, padding included. */
    private static void check(Case t, boolean parallel, Arena arena, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int aRows = t.transA ? t.k : t.m, aCols = t.transA ? t.m : t.k;
        int bRows = t.transB ? t.n : t.k, bCols = t.transB ? t.k : t.n;
        int lda = aCols + t.ldaPad, ldb = bCols + t.ldbPad, ldc = Math.max(1, t.n + t.ldcPad);
        float[] a = random(rnd, t.aOff + aRows * lda);
        float[] b = random(rnd, t.bOff + bRows * ldb);
        float[] c0 = random(rnd, t.cOff + t.m * ldc + 3);
        if (t.nanC) {
            for (int i = 0; i < t.m; i++) {
                for (int j = 0; j < t.n; j++) c0[t.cOff + i * ldc + j] = Float.NaN;
            }
        }
        MemorySegment as = segment(a, arena), bs = segment(b, arena), cs = segment(c0, arena);
        if (parallel) {
            Gemm.sgemm(t.transA, t.transB, t.m, t.n, t.k, t.alpha, as, t.aOff, lda, bs, t.bOff, ldb, t.beta, cs, t.cOff, ldc);
        } else {
            Gemm.sgemmSerial(t.transA, t.transB, t.m, t.n, t.k, t.alpha, as, t.aOff, lda, bs, t.bOff, ldb, t.beta, cs, t.cOff, ldc);
        }
        for (int idx = 0; idx < c0.length; idx++) {
            int rel = idx - t.cOff;
            int i = rel >= 0 ? rel / ldc : -1, j = rel >= 0 ? rel % ldc : -1;
            float got = cs.getAtIndex(F, idx);
            if (i < 0 || i >= t.m || j >= t.n) {
                // Outside the m×n window (offset, row padding, tail): untouched, bit for bit.
                if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(c0[idx])) {
                    fail(t + " parallel=" + parallel + ": wrote outside C at " + idx);
                }
                continue;
            }
            double acc = 0, mag = 0;
            for (int p = 0; p < t.k; p++) {
                double av = a[t.aOff + (t.transA ? p * lda + i : i * lda + p)];
                double bv = b[t.bOff + (t.transB ? j * ldb + p : p * ldb + j)];
                acc += av * bv;
                mag += Math.abs(av * bv);
            }
            double want = t.alpha * acc + (t.beta == 0 ? 0 : t.beta * (double) c0[idx]);
            mag = Math.abs(t.alpha) * mag + (t.beta == 0 ? 0 : Math.abs(t.beta * c0[idx]));
            double tol = 2e-6 * (Math.sqrt(t.k) + 2) * mag + 1e-30;
            if (!(Math.abs(got - want) <= tol)) {
                fail(t + " parallel=" + parallel + " arena=" + (arena != null) + ": C[" + i + "," + j + "] = " + got
                        + ", want " + want + " (tol " + tol + ")");
            }
        }
    }

    private static final int[] SMALL = {1, 3, 17, 31};

    @Test
    void smallSizesAllTransposes() {
        long seed = 1;
        for (int m : SMALL) {
            for (int n : SMALL) {
                for (int k : SMALL) {
                    for (int tr = 0; tr < 4; tr++) {
                        boolean ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                        check(new Case(ta, tb, m, n, k, 1f, 0f, 0, 0, 0, 0, 0, 0, false), false, null, seed++);
                        check(new Case(ta, tb, m, n, k, 0.5f, -1.25f, 3, 5, 7, 2, 1, 3, false), true, null, seed++);
                    }
                }
            }
        }
    }

    @Test
    void largerOddSizes() {
        // Crossing MR, NR, KC (512) and MC (144); big enough for the parallel path.
        int[][] sizes = {{67, 130, 257}, {257, 67, 130}, {130, 257, 67}, {257, 257, 31}, {31, 257, 257}, {145, 33, 600}, {67, 45, 1100}, {1, 257, 130}, {257, 1, 67}};
        long seed = 100;
        for (int[] s : sizes) {
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                check(new Case(ta, tb, s[0], s[1], s[2], 1f, 0f, 0, 0, 0, 0, 0, 0, true), true, null, seed++);
                check(new Case(ta, tb, s[0], s[1], s[2], -0.75f, 0.5f, 11, 13, 17, 5, 3, 9, false), (tr & 1) == 0, null, seed++);
            }
        }
    }

    @Test
    void betaZeroIgnoresNaNAndAlphaBetaVariants() {
        float[][] ab = {{1, 0}, {2.5f, 0}, {1, 1}, {-1, 2}, {0.25f, -0.5f}};
        long seed = 500;
        for (float[] x : ab) {
            boolean nan = x[1] == 0;
            check(new Case(false, false, 67, 130, 31, x[0], x[1], 1, 2, 3, 1, 1, 1, nan), false, null, seed++);
            check(new Case(true, true, 130, 67, 257, x[0], x[1], 1, 2, 3, 1, 1, 1, nan), true, null, seed++);
        }
    }

    @Test
    void nativeSegments() {
        try (Arena arena = Arena.ofShared()) {
            long seed = 700;
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                check(new Case(ta, tb, 130, 67, 257, 1f, 0f, 5, 7, 9, 3, 2, 1, true), true, arena, seed++);
                check(new Case(ta, tb, 17, 31, 3, 1.5f, 0.5f, 1, 0, 2, 0, 4, 0, false), false, arena, seed++);
            }
        }
    }

    @Test
    void columnBlocksWhenPackedBIsCapped() {
        int saved = Gemm.packedBMax;
        Gemm.packedBMax = 4096; // forces several column blocks of NR multiples
        try {
            check(new Case(false, true, 130, 257, 67, 1f, 0f, 0, 0, 0, 0, 0, 0, true), true, null, 900);
            check(new Case(true, false, 67, 257, 130, 0.5f, 2f, 1, 1, 1, 1, 1, 1, false), false, null, 901);
        } finally {
            Gemm.packedBMax = saved;
        }
    }

    @Test
    void degenerateSizes() {
        // k == 0: C = beta·C; beta == 0 clears NaN.
        check(new Case(false, false, 5, 7, 0, 1f, 0f, 0, 0, 0, 0, 0, 0, true), false, null, 1000);
        check(new Case(false, false, 5, 7, 0, 1f, 0.5f, 0, 0, 0, 0, 0, 2, false), true, null, 1001);
        // alpha == 0 does not read A or B.
        check(new Case(false, true, 9, 4, 6, 0f, 2f, 0, 0, 0, 0, 0, 0, false), false, null, 1002);
        // m == 0 or n == 0: nothing touched.
        check(new Case(false, false, 0, 7, 5, 1f, 0f, 0, 0, 0, 0, 0, 0, false), true, null, 1003);
        check(new Case(false, false, 7, 0, 5, 1f, 0f, 0, 0, 0, 0, 0, 0, false), true, null, 1004);
    }

    @Test
    void concurrentSerialCallsFromPoolTasks() {
        // Attention runs one sgemmSerial per head on pool threads, so thread-local buffers must not be shared.
        Parallel.forEach(16, h -> check(new Case(false, true, 64, 77, 40, 0.125f, 0f, 0, 0, 0, 0, 0, 0, true), false, null, 2000 + h));
    }

    @Test
    void parallelGemmNestedInPoolTasks() {
        // A parallel sgemm called from inside pool tasks: a waiting thread may run the other task's GEMM.
        Parallel.forEach(4, h -> check(new Case(false, false, 257, 130, 67, 1f, 0f, 0, 0, 0, 0, 0, 0, true), true, null, 3000 + h));
    }

    @Test
    void operandsOutsideTheirSegmentsAreRejected() {
        // A heap slice one float short: the packers read the backing array, so the check must come first.
        float[] big = new float[100];
        MemorySegment a = MemorySegment.ofArray(big).asSlice(0, 4L * (4 * 5 - 1)), b = MemorySegment.ofArray(new float[5 * 3]);
        MemorySegment c = MemorySegment.ofArray(new float[4 * 3]);
        assertThrows(IndexOutOfBoundsException.class, () -> Gemm.sgemm(false, false, 4, 3, 5, 1f, a, 0, 5, b, 0, 3, 0f, c, 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> Gemm.sgemmSerial(false, false, 4, 3, 5, 1f, b, 0, 5, b, 0, 3, 0f, c, 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> Gemm.sgemm(false, false, 4, 3, 5, 1f, b, 0, 5, b, 0, 3, 0f, c, 1, 3));
        assertThrows(IllegalArgumentException.class, () -> Gemm.sgemm(false, false, -1, 3, 5, 1f, b, 0, 5, b, 0, 3, 0f, c, 0, 3));
    }

    @Test
    void exactOnSmallIntegers() {
        // Integer-valued inputs are summed exactly in fp32: the result must be exact whatever the blocking.
        int m = 37, n = 45, k = 300;
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = (i * 7 % 5) - 2;
        for (int i = 0; i < b.length; i++) b[i] = (i * 3 % 7) - 3;
        Gemm.sgemm(false, false, m, n, k, 1f, MemorySegment.ofArray(a), 0, k, MemorySegment.ofArray(b), 0, n, 0f, MemorySegment.ofArray(c), 0, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                long want = 0;
                for (int p = 0; p < k; p++) want += (long) a[i * k + p] * (long) b[p * n + j];
                assertEquals(want, c[i * n + j], 0.0, "C[" + i + "," + j + "]");
            }
        }
    }
}
