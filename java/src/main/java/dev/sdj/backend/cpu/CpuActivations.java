package dev.sdj.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise activations on float arrays, Vector API main loops. Every exponential is sdj's own
 * ({@link #exp(FloatVector)}, plain IEEE arithmetic), never the Vector API's EXP/TANH: those call
 * SVML once C2 has compiled the loop but fall back to {@code Math.exp} per lane before, so the same
 * input gave different last bits depending on how warm the JIT was (an identical U-Net forward
 * differed at ~1e-7 between runs). The scalar forms (loop tails) run the vector form on one
 * broadcast lane, so which elements fall into a tail does not matter either: results are
 * bit-reproducible.
 */
final class CpuActivations {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Elements per parallel piece: big enough that a task outweighs its scheduling. */
    static final int GRAIN = 1 << 14;

    private static final float SQRT1_2 = 0.70710678118654752440f;
    /** √(2/π), PyTorch's kBeta = M_SQRT2 · M_2_SQRTPI · 0.5. */
    private static final float GELU_TANH_BETA = 0.79788456080286535588f;
    private static final float GELU_TANH_KAPPA = 0.044715f;
    private static final float QUICK_GELU_ALPHA = 1.702f;

    private CpuActivations() {}

    // ---- e^x in vector form ----

    private static final float LOG2E = 1.44269504088896341f, ROUND = 12582912f; // 1.5 · 2^23
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float EXP_MIN = -87.33654f, EXP_MAX = 88f, EXP_OVERFLOW = 88.72283f;

    private static FloatVector c(float v) {
        return FloatVector.broadcast(S, v);
    }

    /** t = x·log2 e rounded into the low mantissa bits (n = t − ROUND), and p = e^r for r = x − n·ln 2 (Cephes' expf). */
    private static FloatVector expMantissa(FloatVector x, FloatVector t) {
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(c(-LN2_HI), x);
        r = n.fma(c(-LN2_LO), r);
        FloatVector p = r.fma(c(1.9875691500e-4f), c(1.3981999507e-3f));
        p = p.fma(r, c(8.3334519073e-3f));
        p = p.fma(r, c(4.1665795894e-2f));
        p = p.fma(r, c(1.6666665459e-1f));
        p = p.fma(r, c(5.0000001201e-1f));
        return p.fma(r.mul(r), r.add(1f));
    }

    /**
     * e^x for x ≤ 0 (a score minus its row's maximum): x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by
     * Cephes' expf polynomial, 2^n built in the exponent bits; within 2 ulp. x below −87.3 (e^x
     * under the smallest normal float) gives 0. Inlined arithmetic rather than the Vector
     * API's EXP (a call to SVML's high-accuracy routine): 7 % off a 1024-token attention, which
     * takes 16 M exponentials; and, unlike SVML's, the same bits whether C2 has compiled the caller or
     * not, which is why the activations use it too.
     */
    static FloatVector expNonPositive(FloatVector x) {
        return expClamped(x.max(EXP_MIN)).blend(0f, x.compare(VectorOperators.LT, EXP_MIN));
    }

    /**
     * e^x for any x, within 2 ulp in the normal range; 0 below −87.3 (where e^x is subnormal) and +∞ above
     * 88.72 (where it overflows), so SiLU and tanh of huge arguments come out as the formulas say.
     */
    static FloatVector exp(FloatVector x) {
        return expClamped(x.max(EXP_MIN).min(EXP_MAX))
                .blend(0f, x.compare(VectorOperators.LT, EXP_MIN))
                .blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_OVERFLOW));
    }

    /** {@link #exp(FloatVector)} of one value, through the same arithmetic. */
    static float exp(float x) {
        return exp(FloatVector.broadcast(S, x)).lane(0);
    }

    /** tanh(x) = 1 − 2 / (e^{2x} + 1). */
    static FloatVector tanh(FloatVector x) {
        return c(1f).sub(c(2f).div(exp(x.mul(2f)).add(1f)));
    }

    private static FloatVector expClamped(FloatVector x) {
        FloatVector t = x.fma(c(LOG2E), c(ROUND));
        // t's low mantissa bits hold n: shifted into the exponent field, plus the bias, they are 2^n.
        FloatVector pow2n = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(127 << 23).reinterpretAsFloats();
        return expMantissa(x, t).mul(pow2n);
    }

    // ---- SiLU: x · σ(x) = x / (1 + e^−x) ----

    static void silu(float[] x, float[] y) {
        Parallel.forRange(x.length, GRAIN, (s, e) -> silu(x, y, s, e));
    }

    static void silu(float[] x, float[] y, int from, int to) {
        int i = from;
        for (int upper = from + S.loopBound(to - from); i < upper; i += S.length()) {
            silu(FloatVector.fromArray(S, x, i)).intoArray(y, i);
        }
        for (; i < to; i++) y[i] = silu(x[i]);
    }

    static float silu(float v) {
        return silu(FloatVector.broadcast(S, v)).lane(0);
    }

    static FloatVector silu(FloatVector v) {
        return v.div(exp(v.neg()).add(1f));
    }

    // ---- QuickGELU (OpenAI CLIP): x · σ(1.702 x) ----

    static void quickGelu(float[] x, float[] y) {
        Parallel.forRange(x.length, GRAIN, (s, e) -> {
            int i = s;
            for (int upper = s + S.loopBound(e - s); i < upper; i += S.length()) {
                FloatVector v = FloatVector.fromArray(S, x, i);
                quickGelu(v).intoArray(y, i);
            }
            for (; i < e; i++) y[i] = quickGelu(FloatVector.broadcast(S, x[i])).lane(0);
        });
    }

    static FloatVector quickGelu(FloatVector v) {
        return v.div(exp(v.mul(-QUICK_GELU_ALPHA)).add(1f));
    }

    // ---- GELU, tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))) ----

    static void geluTanh(float[] x, float[] y) {
        Parallel.forRange(x.length, GRAIN, (s, e) -> {
            int i = s;
            for (int upper = s + S.loopBound(e - s); i < upper; i += S.length()) {
                geluTanh(FloatVector.fromArray(S, x, i)).intoArray(y, i);
            }
            for (; i < e; i++) y[i] = geluTanh(FloatVector.broadcast(S, x[i])).lane(0);
        });
    }

    static FloatVector geluTanh(FloatVector v) {
        FloatVector inner = v.mul(v).mul(v).mul(GELU_TANH_KAPPA).add(v).mul(GELU_TANH_BETA);
        // 0.5·x first, as PyTorch orders it: x · 2 would overflow for x near Float.MAX_VALUE.
        return v.mul(0.5f).mul(tanh(inner).add(1f));
    }

    // ---- GELU, exact: 0.5 x (1 + erf(x / √2)) ----

    static void geluErf(float[] x, float[] y) {
        Parallel.forRange(x.length, GRAIN, (s, e) -> {
            int i = s;
            for (int upper = s + S.loopBound(e - s); i < upper; i += S.length()) {
                geluErf(FloatVector.fromArray(S, x, i)).intoArray(y, i);
            }
            for (; i < e; i++) y[i] = geluErf(x[i]);
        });
    }

    /** diffusers' GEGLU: rows of 2C → hidden[:C] · gelu(gate[C:]), exact GELU. */
    static void geglu(float[] x, int rows, int c, float[] y) {
        Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int in = r * 2 * c, out = r * c, j = 0;
                for (int upper = S.loopBound(c); j < upper; j += S.length()) {
                    FloatVector hidden = FloatVector.fromArray(S, x, in + j);
                    FloatVector gate = FloatVector.fromArray(S, x, in + c + j);
                    hidden.mul(geluErf(gate)).intoArray(y, out + j);
                }
                for (; j < c; j++) y[out + j] = x[in + j] * geluErf(x[in + c + j]);
            }
        });
    }

    /*
     * erf in float, Norbert Juffa's minimax approximation (max error < 1 ulp over all floats):
     * for |a| ≤ 0.9277, erf(a) = a + a·P(a²); above, erfc(|a|) = exp(R(|a|)) with R a polynomial
     * (R ≈ −a² for large |a|), erf = ±(1 − erfc). GELU needs 1 + erf(a), which for negative a is
     * erfc(|a|) = exp(R) itself, so that is used directly. The approximation is tuned for erf, so
     * in GELU's negative tail the error is absolute (~1e-7 · |x|, like PyTorch's 1 + erf), not
     * relative to the tiny result.
     */
    private static final float ERF_SPLIT = 0.927734375f;

    static float geluErf(float x) {
        return geluErf(FloatVector.broadcast(S, x)).lane(0);
    }

    static float erf(float a) {
        float t = Math.abs(a);
        if (t <= ERF_SPLIT) return erfSmall(a, a * a);
        return Math.copySign(1f - (float) Math.exp(erfcExponent(t, a * a)), a);
    }

    private static float erfSmall(float a, float s) {
        float r = -5.96761703e-4f;
        r = Math.fma(r, s, 4.99119423e-3f);
        r = Math.fma(r, s, -2.67681349e-2f);
        r = Math.fma(r, s, 1.12819925e-1f);
        r = Math.fma(r, s, -3.76125336e-1f);
        r = Math.fma(r, s, 1.28379166e-1f);
        return Math.fma(r, a, a);
    }

    /** R(t) with erfc(t) = exp(R(t)) for t > 0.9277; s = t². */
    private static float erfcExponent(float t, float s) {
        float r = Math.fma(-1.72853470e-5f, t, 3.83197126e-4f);
        float u = Math.fma(-3.88396438e-3f, t, 2.42546219e-2f);
        r = Math.fma(r, s, u);
        r = Math.fma(r, t, -1.06777877e-1f);
        r = Math.fma(r, t, -6.34846687e-1f);
        r = Math.fma(r, t, -1.28717512e-1f);
        return Math.fma(r, t, -t);
    }

    /** The vector form of {@link #geluErf(float)}: both branches are computed, then blended. */
    static FloatVector geluErf(FloatVector x) {
        FloatVector a = x.mul(SQRT1_2);
        FloatVector t = a.abs();
        FloatVector s = a.mul(a);

        FloatVector p = FloatVector.broadcast(S, -5.96761703e-4f);
        p = p.fma(s, FloatVector.broadcast(S, 4.99119423e-3f));
        p = p.fma(s, FloatVector.broadcast(S, -2.67681349e-2f));
        p = p.fma(s, FloatVector.broadcast(S, 1.12819925e-1f));
        p = p.fma(s, FloatVector.broadcast(S, -3.76125336e-1f));
        p = p.fma(s, FloatVector.broadcast(S, 1.28379166e-1f));
        FloatVector small = p.fma(a, a).add(1f);

        FloatVector r = FloatVector.broadcast(S, -1.72853470e-5f).fma(t, FloatVector.broadcast(S, 3.83197126e-4f));
        FloatVector u = FloatVector.broadcast(S, -3.88396438e-3f).fma(t, FloatVector.broadcast(S, 2.42546219e-2f));
        r = r.fma(s, u);
        r = r.fma(t, FloatVector.broadcast(S, -1.06777877e-1f));
        r = r.fma(t, FloatVector.broadcast(S, -6.34846687e-1f));
        r = r.fma(t, FloatVector.broadcast(S, -1.28717512e-1f));
        r = r.fma(t, t.neg());
        FloatVector erfc = expNonPositive(r); // R(t) < ln erfc(0.9277) < 0
        FloatVector large = erfc.blend(erfc.neg().add(2f), a.compare(VectorOperators.GE, 0f));

        VectorMask<Float> isSmall = t.compare(VectorOperators.LE, ERF_SPLIT);
        return x.mul(0.5f).mul(large.blend(small, isSmall));
    }
}
