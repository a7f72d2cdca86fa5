package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Single-precision GEMM on host memory: C = alpha · op(A) · op(B) + beta · C, all row-major,
 * offsets and leading dimensions in elements. PLACEHOLDER implementation (plain loops); the
 * blocked Vector API kernel replaces the body, the signature stays.
 */
public final class Gemm {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Gemm() {}

    /** Multi-threaded over the calling thread and the common pool. */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                             float beta, MemorySegment c, long cOff, int ldc) {
        Parallel.forRange(m, 16, (s, e) -> sgemmRows(transA, transB, s, e, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc));
    }

    /** On the calling thread only (for callers that already run one GEMM per task, e.g. per head). */
    public static void sgemmSerial(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                                   float beta, MemorySegment c, long cOff, int ldc) {
        sgemmRows(transA, transB, 0, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    private static void sgemmRows(boolean transA, boolean transB, int m0, int m1, int n, int k, float alpha,
                                  MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                                  float beta, MemorySegment c, long cOff, int ldc) {
        for (int i = m0; i < m1; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0;
                for (int p = 0; p < k; p++) {
                    float av = a.getAtIndex(F, aOff + (transA ? (long) p * lda + i : (long) i * lda + p));
                    float bv = b.getAtIndex(F, bOff + (transB ? (long) j * ldb + p : (long) p * ldb + j));
                    acc += av * bv;
                }
                long ci = cOff + (long) i * ldc + j;
                float prev = beta == 0 ? 0 : beta * c.getAtIndex(F, ci);
                c.setAtIndex(F, ci, alpha * acc + prev);
            }
        }
    }
}
