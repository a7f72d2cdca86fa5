package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.CpuTestSupport.REDUCTION_TOL;
import static dev.sdj.backend.cpu.CpuTestSupport.assertClose;
import static dev.sdj.backend.cpu.CpuTestSupport.d;
import static dev.sdj.backend.cpu.CpuTestSupport.offHeap;
import static dev.sdj.backend.cpu.CpuTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's matrix, normalization and attention ops against {@link Reference64}, on random
 * inputs with odd, non-square sizes and batch 2.
 */
class CpuBackendTest {
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(20240611);

    // ---- conv2d ----

    @ParameterizedTest(name = "k{0}x{1} stride {2},{3} pad {4},{5} bias {6}")
    @CsvSource({
            "3, 3, 1, 1, 1, 1, true",
            "3, 3, 1, 1, 1, 1, false",
            "3, 3, 2, 2, 1, 1, true",
            "3, 3, 2, 2, 0, 0, false",
            "1, 1, 1, 1, 0, 0, true",
            "1, 1, 1, 1, 0, 0, false",
            "3, 1, 2, 1, 1, 0, true",
    })
    void conv2dMatchesReference(int kh, int kw, int sh, int sw, int ph, int pw, boolean withBias) {
        int n = 2, h = 5, w = 7, cin = 12, cout = 9;
        Tensor x = randn(rnd, Layout.NHWC, n, h, w, cin);
        Tensor weight = randn(rnd, Layout.OHWI, cout, kh, kw, cin);
        Tensor bias = withBias ? randn(rnd, cout) : null;
        Tensor y = cpu.conv2d(x, weight, bias, sh, sw, ph, pw);
        int ho = (h + 2 * ph - kh) / sh + 1, wo = (w + 2 * pw - kw) / sw + 1;
        double[] ref = Reference64.conv2d(d(x), n, h, w, cin, d(weight), cout, kh, kw, withBias ? d(bias) : null,
                sh, sw, ph, pw);
        assertClose("conv2d", ref, y, REDUCTION_TOL, n, ho, wo, cout);
        assertEquals(Layout.NHWC, y.layout());
    }

    @Test
    void conv2dReadsOffHeapWeightsAndPyTorchLayoutRoundTrip() {
        // A PyTorch conv (NCHW input, OIHW weight) run through the edge conversions and conv2d.
        int n = 2, cin = 5, h = 7, w = 5, cout = 3;
        Tensor xNchw = randn(rnd, Layout.NCHW, n, cin, h, w);
        Tensor wOihw = offHeap(randn(rnd, Layout.OIHW, cout, cin, 3, 3));
        Tensor y = cpu.nhwcToNchw(cpu.conv2d(cpu.nchwToNhwc(xNchw), cpu.convWeight(wOihw), null, 1, 1));

        double[] x = d(xNchw), wt = d(wOihw), ref = new double[n * cout * h * w];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < w; ox++) {
                        double acc = 0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++) {
                                    int iy = oy + ky - 1, ix = ox + kx - 1;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                        acc += x[((b * cin + ci) * h + iy) * w + ix] * wt[((co * cin + ci) * 3 + ky) * 3 + kx];
                                    }
                                }
                        ref[((b * cout + co) * h + oy) * w + ox] = acc;
                    }
        assertClose("conv2d NCHW round trip", ref, y, REDUCTION_TOL, n, cout, h, w);
        assertEquals(Layout.NCHW, y.layout());
    }

    // ---- linear ----

    @ParameterizedTest(name = "rank {0} bias {1}")
    @CsvSource({"1, true", "2, true", "2, false", "3, true", "3, false"})
    void linearMatchesReference(int rank, boolean withBias) {
        int in = 37, outF = 29;
        int[] shape = switch (rank) {
            case 1 -> new int[] {in};
            case 2 -> new int[] {11, in};
            default -> new int[] {2, 13, in};
        };
        Tensor x = randn(rnd, shape);
        Tensor weight = randn(rnd, outF, in);
        Tensor bias = withBias ? randn(rnd, outF) : null;
        Tensor y = cpu.linear(x, weight, bias);
        int rows = (int) (x.numel() / in);
        int[] outShape = shape.clone();
        outShape[rank - 1] = outF;
        assertClose("linear", Reference64.linear(d(x), rows, in, d(weight), outF, withBias ? d(bias) : null), y,
                REDUCTION_TOL, outShape);
    }

    @Test
    void linearReadsOffHeapWeights() {
        Tensor x = randn(rnd, Layout.NHWC, 2, 3, 5, 7);
        Tensor weight = offHeap(randn(rnd, 11, 7));
        Tensor bias = offHeap(randn(rnd, 11));
        Tensor y = cpu.linear(x, weight, bias);
        assertClose("linear off-heap", Reference64.linear(d(x), 30, 7, d(weight), 11, d(bias)), y, REDUCTION_TOL, 2, 3, 5, 11);
        assertEquals(Layout.NHWC, y.layout(), "linear keeps x's layout");
    }

    // ---- matmul ----

    @ParameterizedTest(name = "transA {0} transB {1} batch {2}")
    @CsvSource({
            "false, false, 3", "false, true, 3", "true, false, 3", "true, true, 3",
            "false, false, 1", "true, true, 1",
    })
    void matmulMatchesReference(boolean transA, boolean transB, int batch) {
        int m = 13, k = 19, n = 7;
        float alpha = 0.37f;
        Tensor a = transA ? randn(rnd, batch, k, m) : randn(rnd, batch, m, k);
        Tensor b = transB ? randn(rnd, batch, n, k) : randn(rnd, batch, k, n);
        Tensor c = cpu.matmul(a, b, transA, transB, alpha);
        double[] ref = Reference64.matmul(d(a), batch, a.dim(1), a.dim(2), d(b), b.dim(1), b.dim(2), transA, transB, alpha);
        assertClose("matmul", ref, c, REDUCTION_TOL, batch, m, n);
    }

    // ---- groupNorm ----

    @ParameterizedTest(name = "groups {0} C {1} silu {2} eps {3}")
    @CsvSource({
            "1, 12, false, 1e-5", "1, 12, true, 1e-6",
            "3, 12, false, 1e-6", "3, 12, true, 1e-5",
            "4, 12, false, 1e-5", "4, 12, true, 1e-6",
            "12, 12, true, 1e-5",
            // wider than one vector, with a tail: the vectorized channel loops
            "3, 51, false, 1e-5", "4, 48, true, 1e-6",
    })
    void groupNormMatchesReference(int groups, int c, boolean silu, float eps) {
        int n = 2, h = 5, w = 7;
        Tensor x = randn(rnd, Layout.NHWC, n, h, w, c);
        Tensor gamma = randn(rnd, c), beta = randn(rnd, c);
        Tensor y = cpu.groupNorm(x, groups, gamma, beta, eps, silu);
        double[] ref = Reference64.groupNorm(d(x), n, h * w, c, groups, d(gamma), d(beta), eps, silu);
        assertClose("groupNorm", ref, y, REDUCTION_TOL, n, h, w, c);
    }

    @Test
    void groupNormIsStableForALargeMeanAndManyPixels() {
        // 2 × 61 × 67 pixels × 40 channels (VAE-like widths would be larger still), mean 100, std 0.01:
        // a one-pass E[x²] − mean² in float would lose the variance entirely.
        int n = 2, h = 61, w = 67, c = 40, groups = 8;
        float[] v = new float[n * h * w * c];
        for (int i = 0; i < v.length; i++) v[i] = 100f + 0.01f * (float) rnd.nextGaussian();
        Tensor x = offHeap(Tensor.of(v, Layout.NHWC, n, h, w, c));
        Tensor gamma = randn(rnd, c), beta = randn(rnd, c);
        Tensor y = cpu.groupNorm(x, groups, gamma, beta, 1e-6f, false);
        double[] ref = Reference64.groupNorm(d(x), n, h * w, c, groups, d(gamma), d(beta), 1e-6, false);
        // y = x·a + b with a = gamma/σ ≈ 100·gamma and b ≈ −mean·a ≈ −1e4·gamma (PyTorch's CPU kernel
        // has the same form): b rounded to float is off by ~5e-4, hence a looser bound than
        // REDUCTION_TOL here, still far from a one-pass variance's total loss.
        assertClose("groupNorm large mean", ref, y, 2e-3, n, h, w, c);
    }

    // ---- layerNorm ----

    @ParameterizedTest(name = "gamma {0} beta {1}")
    @CsvSource({"true, true", "false, false", "true, false"})
    void layerNormMatchesReference(boolean withGamma, boolean withBeta) {
        int c = 77;
        Tensor x = randn(rnd, 2, 9, c);
        Tensor gamma = withGamma ? randn(rnd, c) : null, beta = withBeta ? randn(rnd, c) : null;
        Tensor y = cpu.layerNorm(x, gamma, beta, 1e-5f);
        double[] ref = Reference64.layerNorm(d(x), 18, c, withGamma ? d(gamma) : null, withBeta ? d(beta) : null, 1e-5);
        assertClose("layerNorm", ref, y, REDUCTION_TOL, 2, 9, c);
    }

    // ---- softmax ----

    @Test
    void softmaxMatchesReference() {
        Tensor x = randn(rnd, 2, 5, 37);
        assertClose("softmax", Reference64.softmax(d(x), 10, 37), cpu.softmax(x), REDUCTION_TOL, 2, 5, 37);
    }

    @Test
    void softmaxOfLargeValuesStaysFinite() {
        int c = 19;
        float[] v = new float[3 * c];
        for (int j = 0; j < c; j++) {
            v[j] = 1000f + j;            // e^1000 overflows unless the max is subtracted
            v[c + j] = -1000f - 3 * j;   // e^−1000 underflows unless the max is subtracted
            v[2 * c + j] = j % 2 == 0 ? 1000f : -1000f;
        }
        Tensor x = Tensor.of(v, 3, c);
        Tensor y = cpu.softmax(x);
        for (int r = 0; r < 3; r++) {
            double sum = 0;
            for (int j = 0; j < c; j++) {
                float p = y.getFloat(r * c + j);
                assertTrue(Float.isFinite(p), "softmax row " + r + " has " + p);
                sum += p;
            }
            assertEquals(1.0, sum, 1e-5, "softmax row " + r + " sums to 1");
        }
        assertClose("softmax large", Reference64.softmax(d(x), 3, c), y, REDUCTION_TOL, 3, c);
    }

    // ---- attention ----

    @ParameterizedTest(name = "Lq {0} Lk {1} heads {2} D {3} Dv {4} causal {5}")
    @CsvSource({
            "35, 35, 1, 8, 8, false",
            "35, 35, 2, 8, 8, false",
            "35, 35, 5, 8, 8, false",
            "35, 35, 1, 8, 8, true",
            "35, 35, 5, 8, 8, true",
            "35, 77, 2, 8, 8, false",
            "35, 77, 5, 12, 7, false",
            "77, 35, 2, 6, 6, true",
    })
    void attentionMatchesReference(int lq, int lk, int heads, int d, int dv, boolean causal) {
        int b = 2;
        Tensor q = randn(rnd, b, lq, heads * d);
        Tensor k = randn(rnd, b, lk, heads * d);
        Tensor v = randn(rnd, b, lk, heads * dv);
        Tensor y = cpu.attention(q, k, v, heads, causal);
        double[] ref = Reference64.attention(d(q), d(k), d(v), b, lq, lk, heads, d, dv, causal);
        assertClose("attention", ref, y, REDUCTION_TOL, b, lq, heads * dv);
    }

    @Test
    void causalAttentionFirstQueryReturnsFirstValue() {
        // Query 0 sees only key 0, so its output is exactly v[0], whatever the scores.
        int heads = 3, d = 4;
        Tensor q = randn(rnd, 1, 6, heads * d), k = randn(rnd, 1, 6, heads * d), v = randn(rnd, 1, 6, heads * d);
        Tensor y = cpu.attention(q, k, v, heads, true);
        for (int c = 0; c < heads * d; c++) assertEquals(v.getFloat(c), y.getFloat(c), 0f);
    }

    @Test
    void attentionReadsOffHeapInputs() {
        Tensor q = offHeap(randn(rnd, 2, 9, 10)), k = offHeap(randn(rnd, 2, 11, 10)), v = offHeap(randn(rnd, 2, 11, 6));
        double[] ref = Reference64.attention(d(q), d(k), d(v), 2, 9, 11, 2, 5, 3, false);
        assertClose("attention off-heap", ref, cpu.attention(q, k, v, 2, false), REDUCTION_TOL, 2, 9, 6);
    }
}
