package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head scaled-dot-product attention, softmax(Q·Kᵀ/√D [+ causal mask]) · V, one task per
 * (batch, head), or per part of its queries when there are fewer (batch, head) pairs than about
 * four per thread, on the GEMM's register kernel.
 *
 * <p>Heads are interleaved in the channel dim (head h owns columns h·D … h·D+D−1 of each row), so a
 * head's Q, K and V are strided sub-matrices: offset h·D and leading dimension heads·D address
 * them. Each task packs its head's Kᵀ and V once into micro-panels of {@link GemmKernel#NR}
 * columns over their whole depth (D for Kᵀ, Lk for V; thread-local native scratch that stays in
 * L2 for Lk ≈ 1024), then walks its queries {@link GemmKernel#MR} at a time: their scores (MR × Lk,
 * in L1) from the packed Kᵀ, e^(s − row max) in place with the row sums, the probabilities
 * interleaved into one A micro-panel; a block of such groups then runs P · V from the packed V in
 * key chunks (each chunk read once for the block: at 4096 tokens K and V no longer fit in L2),
 * each output row scaled by 1/sum (normalizing the Dv outputs rather than the Lk probabilities).
 * Tasks write disjoint output blocks.
 */
final class CpuAttention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = GemmKernel.VL, MR = GemmKernel.MR, NR = GemmKernel.NR;
    /** Probabilities of one block of query groups: 96 Ki floats (384 KiB), beside a V chunk in a 1 MiB L2. */
    private static final int BLOCK_FLOATS = 96 << 10;
    private static final int MAX_GROUPS = 8;
    /** Keys per P · V kernel call: one chunk of a V panel is KEY_CHUNK · NR floats (64 KiB), reused by every group of a block. */
    private static final int KEY_CHUNK = 512;

    /** Per-thread scratch, borrowed (the slot is emptied meanwhile: a thread waiting in a fork/join may run another head). */
    private static final ThreadLocal<Scratch> SCRATCH = new ThreadLocal<>();

    private static final class Scratch {
        MemorySegment k, v;
        float[] scores = new float[0], panel = new float[0], q = new float[0], tile = new float[MR * NR], packScratch = new float[0];
        float[] acc = new float[0];

        MemorySegment k(long floats) {
            if (k == null || k.byteSize() < floats * Float.BYTES) k = HostFloats.allocateNative(floats * Float.BYTES);
            return k;
        }

        MemorySegment v(long floats) {
            if (v == null || v.byteSize() < floats * Float.BYTES) v = HostFloats.allocateNative(floats * Float.BYTES);
            return v;
        }
    }

    private CpuAttention() {}

    /**
     * q (b, lq, heads·d), k (b, lk, heads·d), v (b, lk, heads·dv) → out (b, lq, heads·dv), all
     * row-major in their segments; out is a float[] the caller allocated.
     */
    static void forward(MemorySegment q, MemorySegment k, MemorySegment v, int b, int lq, int lk, int heads,
                        int d, int dv, boolean causal, float[] out) {
        float scale = (float) (1.0 / Math.sqrt(d));
        int ldq = heads * d, ldv = heads * dv;
        Gemm.checkMatrix("q", q, 0, b * lq, ldq, ldq);
        Gemm.checkMatrix("k", k, 0, b * lk, ldq, ldq);
        Gemm.checkMatrix("v", v, 0, b * lk, ldv, ldv);
        int groups = (lq + MR - 1) / MR;
        // Enough tasks for work stealing to even out: split a head's queries when heads·b are few.
        int pairs = b * heads;
        int parts = Math.max(1, Math.min(groups, (4 * Parallel.threads() + pairs - 1) / pairs));
        Parallel.forEach(pairs * parts, task -> {
            int pair = task / parts, part = task % parts;
            int g0 = (int) ((long) groups * part / parts), g1 = (int) ((long) groups * (part + 1) / parts);
            head(q, k, v, pair / heads, pair % heads, lq, lk, d, dv, ldq, ldv, scale, causal, g0 * MR, Math.min(lq, g1 * MR), out);
        });
    }

    /** Queries i0 … i1−1 of one (batch, head). */
    private static void head(MemorySegment q, MemorySegment k, MemorySegment v, int batch, int h, int lq, int lk, int d, int dv,
                             int ldq, int ldv, float scale, boolean causal, int i0, int i1, float[] out) {
        if (i0 >= i1) return;
        Scratch s = SCRATCH.get();
        if (s == null) s = new Scratch();
        SCRATCH.set(null);
        try {
            int kPanels = (lk + NR - 1) / NR, lkPad = kPanels * NR, vPanels = (dv + NR - 1) / NR;
            if (s.packScratch.length < NR * Math.max(d, 1)) s.packScratch = new float[NR * Math.max(d, 1)];
            // Kᵀ (d × lk): panel jp holds keys jp·NR … +NR−1 over all d, (p, j) at jp·d·NR + p·NR + j.
            MemorySegment kp = s.k((long) kPanels * NR * d);
            long kOff = (long) batch * lk * ldq + (long) h * d;
            for (int jp = 0; jp < kPanels; jp++) {
                GemmKernel.packB(kp, (long) jp * d * NR, k, kOff, ldq, true, 0, d, jp * NR, Math.min(NR, lk - jp * NR), s.packScratch);
            }
            // V (lk × dv): panel jp holds channels jp·NR … +NR−1 over all lk keys.
            MemorySegment vp = s.v((long) vPanels * NR * lk);
            long vOff = (long) batch * lk * ldv + (long) h * dv;
            for (int jp = 0; jp < vPanels; jp++) {
                GemmKernel.packB(vp, (long) jp * lk * NR, v, vOff, ldv, false, 0, lk, jp * NR, Math.min(NR, dv - jp * NR), null);
            }
            // Query groups per block: their probabilities stay in L2 (≤ 96 Ki floats) while P · V
            // runs over V in key chunks, so that each chunk of V is read once per block, not per group.
            int g = Math.max(1, Math.min(MAX_GROUPS, BLOCK_FLOATS / (MR * Math.max(lk, 1))));
            if (s.scores.length < MR * lkPad) s.scores = new float[MR * lkPad];
            if (s.panel.length < g * MR * lk) s.panel = new float[g * MR * lk];
            if (s.q.length < MR * d + MR * d) s.q = new float[2 * MR * d];
            if (s.acc.length < g * MR * NR) s.acc = new float[g * MR * NR];
            float[] scores = s.scores, panel = s.panel, qp = s.q, tile = s.tile, acc = s.acc;
            float[] sums = new float[g * MR];
            Gemm.MatrixA qa = new Gemm.MatrixA(q, (long) batch * lq * ldq + (long) h * d, ldq, false);
            for (int b0 = i0; b0 < i1; b0 += g * MR) {
                int groups = Math.min(g, (i1 - b0 + MR - 1) / MR);
                for (int gi = 0; gi < groups; gi++) {
                    int r0 = b0 + gi * MR, rows = Math.min(MR, i1 - r0);
                    // scores (rows × lk) = scale · Q[r0.., h] · K[.., h]ᵀ
                    qa.pack(qp, 0, MR * d, r0, rows, 0, d);
                    for (int jp = 0; jp < kPanels; jp++) {
                        GemmKernel.kernel(qp, 0, kp, (long) jp * d * NR, d, tile, 0);
                        for (int r = 0; r < rows; r++) {
                            int t = r * NR, o = r * lkPad + jp * NR;
                            FloatVector.fromArray(S, tile, t).mul(scale).intoArray(scores, o);
                            FloatVector.fromArray(S, tile, t + VL).mul(scale).intoArray(scores, o + VL);
                        }
                    }
                    // P = e^(s − max) over each row's visible keys (causal: query i sees keys 0 … i), 0 past them.
                    for (int r = 0; r < rows; r++) {
                        int visible = causal ? Math.min(lk, r0 + r + 1) : lk;
                        sums[gi * MR + r] = expRow(scores, r * lkPad, visible, lk);
                    }
                    GemmKernel.interleave(scores, 0, lkPad, lk, rows, panel, gi * MR * lk);
                }
                // out (rows × dv) = P · V[.., h] / sum, per V panel over key chunks, every group of the block per chunk.
                for (int jp = 0; jp < vPanels; jp++) {
                    int cols = Math.min(NR, dv - jp * NR);
                    for (int p0 = 0; p0 < lk; p0 += KEY_CHUNK) {
                        int kc = Math.min(KEY_CHUNK, lk - p0);
                        long vAt = (long) jp * lk * NR + (long) p0 * NR;
                        for (int gi = 0; gi < groups; gi++) {
                            int pAt = gi * MR * lk + p0 * MR;
                            if (cols > VL) GemmKernel.kernel(panel, pAt, vp, vAt, kc, tile, 0);
                            else if (cols > VL / 2) GemmKernel.kernelHalf(panel, pAt, vp, vAt, kc, tile, 0);
                            else GemmKernel.kernelQuarter(panel, pAt, vp, vAt, kc, tile, 0);
                            accumulate(tile, acc, gi * MR * NR, p0 == 0);
                        }
                    }
                    for (int gi = 0; gi < groups; gi++) {
                        int r0 = b0 + gi * MR, rows = Math.min(MR, i1 - r0);
                        for (int r = 0; r < rows; r++) {
                            int o = ((batch * lq + r0 + r) * ldv) + h * dv + jp * NR;
                            store(acc, gi * MR * NR + r * NR, out, o, cols, 1f / sums[gi * MR + r]);
                        }
                    }
                }
            }
        } finally {
            SCRATCH.set(s);
        }
    }

    /** acc[a …] = tile (first key chunk) or += tile, all MR × NR. */
    private static void accumulate(float[] tile, float[] acc, int a, boolean first) {
        for (int i = 0; i < MR * NR; i += VL) {
            FloatVector t = FloatVector.fromArray(S, tile, i);
            (first ? t : t.add(FloatVector.fromArray(S, acc, a + i))).intoArray(acc, a + i);
        }
    }

    /** out[o … o+cols) = tile[t …] · f. */
    private static void store(float[] tile, int t, float[] out, int o, int cols, float f) {
        if (cols == NR) {
            FloatVector.fromArray(S, tile, t).mul(f).intoArray(out, o);
            FloatVector.fromArray(S, tile, t + VL).mul(f).intoArray(out, o + VL);
            return;
        }
        VectorMask<Float> m0 = S.indexInRange(0, cols), m1 = S.indexInRange(VL, cols);
        FloatVector.fromArray(S, tile, t).mul(f).intoArray(out, o, m0);
        if (cols > VL) FloatVector.fromArray(S, tile, t + VL).mul(f).intoArray(out, o + VL, m1);
    }

    /**
     * x[off..off+n) = e^(x − max) over the first {@code visible} (≥ 1) entries, 0 for the rest
     * of the n; returns the sum.
     */
    static float expRow(float[] x, int off, int visible, int n) {
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (int upper = S.loopBound(visible); j < upper; j += VL) vmax = vmax.max(FloatVector.fromArray(S, x, off + j));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < visible; j++) max = Math.max(max, x[off + j]);

        FloatVector vsum = FloatVector.zero(S);
        j = 0;
        for (int upper = S.loopBound(visible); j < upper; j += VL) {
            FloatVector e = CpuActivations.expNonPositive(FloatVector.fromArray(S, x, off + j).sub(max));
            e.intoArray(x, off + j);
            vsum = vsum.add(e);
        }
        float sum = HostFloats.sumLanes(vsum);
        for (; j < visible; j++) {
            float e = (float) Math.exp(x[off + j] - max);
            x[off + j] = e;
            sum += e;
        }
        java.util.Arrays.fill(x, off + visible, off + n, 0f);
        return sum;
    }
}
