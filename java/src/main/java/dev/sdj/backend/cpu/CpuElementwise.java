package dev.sdj.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * a ∘ b (add or multiply) with NumPy broadcasting of b into a's shape, and x · s.
 *
 * <p>b is padded with leading 1s to a's rank. Over the longest suffix of dims where b equals a
 * (all of them for equal shapes, the last one for a bias [C]) b is contiguous along with a, so
 * a's flat index is walked in parallel pieces and each stretch of a row meets one contiguous
 * stretch of b, whose start comes from the outer index and b's strides (0 where b is 1, e.g.
 * [N, 1, 1, C] against [N, H, W, C]). When b's last dim is a broadcast 1 (e.g. [N, H, W, 1]),
 * each row of a's trailing dims meets a single value of b instead.
 */
final class CpuElementwise {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    enum Op { ADD, MUL }

    private CpuElementwise() {}

    /**
     * out = a ∘ broadcast(b). {@code bShape} is already known to broadcast into {@code aShape}:
     * rank ≤ a's, each trailing-aligned dim equal or 1.
     */
    static void apply(Op op, float[] a, int[] aShape, float[] b, int[] bShape, float[] out) {
        if (a.length == 0) return;
        int rank = aShape.length;
        int[] bs = new int[rank];   // b's shape left-padded with 1s to a's rank
        java.util.Arrays.fill(bs, 1);
        System.arraycopy(bShape, 0, bs, rank - bShape.length, bShape.length);

        // The longest suffix where b equals a: there b is contiguous along with a.
        int suffix = rank;
        while (suffix > 0 && bs[suffix - 1] == aShape[suffix - 1]) suffix--;
        int split = suffix;
        int inner = product(aShape, split, rank);

        if (inner == 1 && split > 0) {
            // No matching suffix (b's last dim is 1 where a's is not): find b's trailing 1s instead.
            int onesSplit = rank;
            while (onesSplit > 0 && bs[onesSplit - 1] == 1) onesSplit--;
            applyScalarRows(op, a, b, bs, aShape, onesSplit, out);
            return;
        }

        // Walk a's flat index in parallel pieces; within a piece, each stretch up to the end of an
        // inner row pairs with one contiguous stretch of b.
        int[] bStride = broadcastStrides(bs, split);
        Parallel.forRange(a.length, CpuActivations.GRAIN, (p0, p1) -> {
            for (int p = p0; p < p1; ) {
                int o = p / inner, i = p % inner;
                int n = Math.min(p1 - p, inner - i);
                row(op, a, p, b, offset(o, aShape, bStride, split) * inner + i, out, n);
                p += n;
            }
        });
    }

    /** Inner rows (dims onesSplit..) of a each meet one value of b. */
    private static void applyScalarRows(Op op, float[] a, float[] b, int[] bs, int[] aShape, int onesSplit, float[] out) {
        int rank = aShape.length;
        int inner = product(aShape, onesSplit, rank);
        int outer = a.length / Math.max(1, inner);
        int[] bStride = broadcastStrides(bs, onesSplit);
        Parallel.forRange(outer, Math.max(1, CpuActivations.GRAIN / Math.max(1, inner)), (o0, o1) -> {
            for (int o = o0; o < o1; o++) {
                float bv = b[offset(o, aShape, bStride, onesSplit)];
                int off = o * inner;
                for (int i = 0; i < inner; i++) out[off + i] = op == Op.ADD ? a[off + i] + bv : a[off + i] * bv;
            }
        });
    }

    /**
     * Strides (in units of b's suffix block) of b's dims 0 … split−1, zero where b has size 1 so
     * those dims repeat b.
     */
    private static int[] broadcastStrides(int[] bs, int split) {
        int[] stride = new int[split];
        int s = 1;
        for (int d = split - 1; d >= 0; d--) {
            stride[d] = bs[d] == 1 ? 0 : s;
            s *= bs[d];
        }
        return stride;
    }

    /** b's block index for a's outer index o (a's dims 0 … split−1, row-major). */
    private static int offset(int o, int[] aShape, int[] bStride, int split) {
        int off = 0;
        for (int d = split - 1; d >= 0; d--) {
            off += (o % aShape[d]) * bStride[d];
            o /= aShape[d];
        }
        return off;
    }

    private static int product(int[] shape, int from, int to) {
        int p = 1;
        for (int d = from; d < to; d++) p *= shape[d];
        return p;
    }

    /** out[off..+n) = a[off..+n) ∘ b[bOff..+n). */
    private static void row(Op op, float[] a, int off, float[] b, int bOff, float[] out, int n) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector va = FloatVector.fromArray(S, a, off + i), vb = FloatVector.fromArray(S, b, bOff + i);
            (op == Op.ADD ? va.add(vb) : va.mul(vb)).intoArray(out, off + i);
        }
        for (; i < n; i++) out[off + i] = op == Op.ADD ? a[off + i] + b[bOff + i] : a[off + i] * b[bOff + i];
    }

    static void scale(float[] x, float s, float[] y) {
        Parallel.forRange(x.length, CpuActivations.GRAIN, (i0, i1) -> {
            int i = i0;
            for (int upper = i0 + S.loopBound(i1 - i0); i < upper; i += S.length()) {
                FloatVector.fromArray(S, x, i).mul(s).intoArray(y, i);
            }
            for (; i < i1; i++) y[i] = x[i] * s;
        });
    }
}
