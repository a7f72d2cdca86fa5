package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Multi-head scaled-dot-product attention, softmax(Q·Kᵀ/√D [+ causal mask]) · V, one task per
 * (batch, head, block of queries).
 *
 * <p>Heads are interleaved in the channel dim (head h owns columns h·D … h·D+D−1 of each row), so a
 * head's Q, K and V are strided sub-matrices: offset h·D and leading dimension heads·D address
 * them in place, no copies. Each task multiplies its query block against all keys into a scratch
 * score matrix (QUERY_BLOCK × Lk, a thread-local array), takes the row softmaxes there and
 * multiplies by V straight into its columns of the output. Tasks write disjoint output blocks.
 */
final class CpuAttention {
    /** Queries per task: keeps the score scratch (QUERY_BLOCK · Lk floats) in L2 for Lk ≈ 4096. */
    private static final int QUERY_BLOCK = 32;
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    private CpuAttention() {}

    /**
     * q (b, lq, heads·d), k (b, lk, heads·d), v (b, lk, heads·dv) → out (b, lq, heads·dv), all
     * row-major in their segments; out is a float[] the caller allocated.
     */
    static void forward(MemorySegment q, MemorySegment k, MemorySegment v, int b, int lq, int lk, int heads,
                        int d, int dv, boolean causal, float[] out) {
        MemorySegment outSeg = MemorySegment.ofArray(out);
        float scale = (float) (1.0 / Math.sqrt(d));
        int qBlocks = (lq + QUERY_BLOCK - 1) / QUERY_BLOCK;
        int ldq = heads * d, ldv = heads * dv;
        Parallel.forEach(b * heads * qBlocks, task -> {
            int batch = task / (heads * qBlocks), h = task / qBlocks % heads, block = task % qBlocks;
            int i0 = block * QUERY_BLOCK, rows = Math.min(QUERY_BLOCK, lq - i0);
            float[] scores = scratch(rows * lk);
            MemorySegment scoreSeg = MemorySegment.ofArray(scores);

            // scores (rows × lk) = scale · Q[i0.., h] · K[.., h]ᵀ
            long qOff = ((long) batch * lq + i0) * ldq + (long) h * d;
            long kOff = (long) batch * lk * ldq + (long) h * d;
            Gemm.sgemmSerial(false, true, rows, lk, d, scale, q, qOff, ldq, k, kOff, ldq, 0f, scoreSeg, 0, lk);

            // Causal: query i sees keys 0 … i. Masked keys would get e^−∞ = 0, so the softmax runs
            // over the visible prefix and the rest of the row is set to exactly 0.
            for (int r = 0; r < rows; r++) {
                int visible = causal ? Math.min(lk, i0 + r + 1) : lk;
                CpuNorms.softmaxRow(scores, r * lk, scores, r * lk, visible);
                Arrays.fill(scores, r * lk + visible, (r + 1) * lk, 0f);
            }

            // out[i0.., h] (rows × dv) = P · V[.., h]
            long vOff = (long) batch * lk * ldv + (long) h * dv;
            long oOff = ((long) batch * lq + i0) * ldv + (long) h * dv;
            Gemm.sgemmSerial(false, false, rows, dv, lk, 1f, scoreSeg, 0, lk, v, vOff, ldv, 0f, outSeg, oOff, ldv);
        });
    }

    /** This thread's scratch, grown to at least n floats. The segment handed to Gemm covers it all. */
    private static float[] scratch(int n) {
        float[] s = SCRATCH.get();
        if (s.length < n) {
            s = new float[n];
            SCRATCH.set(s);
        }
        return s;
    }
}
