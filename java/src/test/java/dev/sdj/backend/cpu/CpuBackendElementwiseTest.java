package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.CpuTestSupport.ELEMENTWISE_TOL;
import static dev.sdj.backend.cpu.CpuTestSupport.assertClose;
import static dev.sdj.backend.cpu.CpuTestSupport.d;
import static dev.sdj.backend.cpu.CpuTestSupport.offHeap;
import static dev.sdj.backend.cpu.CpuTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Activations, resampling, concatenation and broadcast arithmetic against {@link Reference64}. */
class CpuBackendElementwiseTest {
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(7);

    /**
     * Inputs covering every branch: a dense sweep of [−12, 12] (erf's two polynomial ranges,
     * exp's saturation), ±0, large magnitudes where exp overflows or underflows, and random values;
     * 2·3·5·7·… elements so the vector loops have scalar tails.
     */
    private Tensor activationInputs() {
        int sweep = 4801;
        float[] special = {0f, -0f, 1e-30f, -1e-30f, 50f, -50f, 90f, -90f, 1e4f, -1e4f, 3e38f, -3e38f};
        float[] v = new float[sweep + special.length + 2 * 3 * 5 * 7 * 11];
        for (int i = 0; i < sweep; i++) v[i] = -12f + 24f * i / (sweep - 1);
        System.arraycopy(special, 0, v, sweep, special.length);
        for (int i = sweep + special.length; i < v.length; i++) v[i] = (float) (3 * rnd.nextGaussian());
        return Tensor.of(v, Layout.NHWC, 1, 1, 1, v.length);
    }

    private void checkActivation(String what, Tensor y, Tensor x, DoubleUnaryOperator ref) {
        double[] in = d(x), expected = new double[in.length];
        for (int i = 0; i < in.length; i++) expected[i] = ref.applyAsDouble(in[i]);
        assertClose(what, expected, y, ELEMENTWISE_TOL, x.shape());
        assertEquals(x.layout(), y.layout(), what + " keeps the layout");
    }

    @Test
    void silu() {
        Tensor x = activationInputs();
        checkActivation("silu", cpu.silu(x), x, Reference64::silu);
    }

    @Test
    void geluExact() {
        Tensor x = activationInputs();
        checkActivation("gelu erf", cpu.gelu(x, false), x, Reference64::geluErf);
    }

    @Test
    void geluExactKnownValues() {
        // x · Φ(x) with the normal CDF Φ: Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208,
        // Φ(−3) = 0.0013498980316300946. The float result's error is absolute, ~1e-7 · |x|.
        Tensor y = cpu.gelu(Tensor.of(new float[] {1f, -1f, 2f, -3f}, 4), false);
        assertEquals(0.8413447460685429, y.getFloat(0), 1e-7);
        assertEquals(-0.15865525393145707, y.getFloat(1), 1e-7);
        assertEquals(1.9544997361036416, y.getFloat(2), 2e-7);
        assertEquals(-0.004049694094890284, y.getFloat(3), 5e-8);
    }

    @Test
    void erfIsAccurateToAboutOneUlp() {
        for (float x = -6f; x <= 6f; x += 0.0013f) {
            double ref = Reference64.erf(x);
            assertEquals(ref, CpuActivations.erf(x), 1.5 * Math.ulp((float) ref) + 1e-45, "erf(" + x + ")");
        }
    }

    @Test
    void geluTanh() {
        Tensor x = activationInputs();
        checkActivation("gelu tanh", cpu.gelu(x, true), x, Reference64::geluTanh);
    }

    @Test
    void quickGelu() {
        Tensor x = activationInputs();
        checkActivation("quickGelu", cpu.quickGelu(x), x, Reference64::quickGelu);
    }

    @Test
    void geglu() {
        int c = 37;
        Tensor x = randn(rnd, 2, 9, 2 * c);
        Tensor y = cpu.geglu(x);
        assertClose("geglu", Reference64.geglu(d(x), 18, c), y, ELEMENTWISE_TOL, 2, 9, c);
    }

    @Test
    void gegluTakesHiddenFirstAndGateSecond() {
        // x = [hidden = 3, gate = 1] → 3 · gelu(1); swapped halves would give 1 · gelu(3).
        Tensor y = cpu.geglu(Tensor.of(new float[] {3f, 1f}, 1, 2));
        assertEquals(3 * 0.8413447460685429, y.getFloat(0), 1e-6);
    }

    // ---- pad2d ----

    @ParameterizedTest(name = "pad ({0}, {1}, {2}, {3})")
    @CsvSource({"0, 1, 0, 1", "1, 1, 1, 1", "2, 0, 3, 0", "0, 0, 0, 0"})
    void pad2dMatchesReference(int top, int bottom, int left, int right) {
        int n = 2, h = 5, w = 7, c = 3;
        Tensor x = randn(rnd, Layout.NHWC, n, h, w, c);
        Tensor y = cpu.pad2d(x, top, bottom, left, right);
        assertClose("pad2d", Reference64.pad2d(d(x), n, h, w, c, top, bottom, left, right), y, 0,
                n, h + top + bottom, w + left + right, c);
    }

    // ---- upsampleNearest ----

    @ParameterizedTest(name = "{0}x{1} -> {2}x{3}")
    @CsvSource({"5, 7, 10, 14", "5, 7, 11, 13", "3, 7, 6, 13", "7, 5, 13, 11", "7, 5, 3, 2", "5, 7, 5, 7"})
    void upsampleNearestMatchesPyTorchRule(int h, int w, int oh, int ow) {
        int n = 2, c = 12;
        Tensor x = randn(rnd, Layout.NHWC, n, h, w, c);
        Tensor y = cpu.upsampleNearest(x, oh, ow);
        assertClose("upsampleNearest", Reference64.upsampleNearest(d(x), n, h, w, c, oh, ow), y, 0, n, oh, ow, c);
        assertEquals(Layout.NHWC, y.layout());
    }

    @Test
    void upsampleNearest2xRepeatsEachPixel() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, Layout.NHWC, 1, 2, 3, 1);
        float[] expected = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
        assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(cpu.upsampleNearest2x(x).toFloatArray()));
    }

    @Test
    void nearestSourceFollowsPyTorchFloatScale() {
        // 5 → 11: floor(dst · 0.45454547f), as torch.nn.functional.interpolate(size=11) picks.
        int[] expected = {0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
        assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(CpuBackend.nearestSources(5, 11)));
        // Where float rounding differs from exact arithmetic, PyTorch's float rule wins:
        // 2 → 82, dst 41: exact 41·2/82 = 1, but 41 · (2f/82) rounds to 0.99999994 → 0.
        assertEquals(0, CpuBackend.nearestSources(2, 82)[41]);
        assertEquals(0, Reference64.nearestSource(41, 2, 82));
    }

    // ---- concatChannels ----

    @Test
    void concatChannels() {
        Tensor a = randn(rnd, Layout.NHWC, 2, 5, 7, 12), b = randn(rnd, Layout.NHWC, 2, 5, 7, 5);
        Tensor y = cpu.concatChannels(a, b);
        double[] da = d(a), db = d(b), ref = new double[2 * 5 * 7 * 17];
        for (int p = 0; p < 70; p++) {
            for (int j = 0; j < 12; j++) ref[p * 17 + j] = da[p * 12 + j];
            for (int j = 0; j < 5; j++) ref[p * 17 + 12 + j] = db[p * 5 + j];
        }
        assertClose("concatChannels", ref, y, 0, 2, 5, 7, 17);
        assertEquals(Layout.NHWC, y.layout());
    }

    // ---- add, mul, scale ----

    @ParameterizedTest(name = "{1} into [2, 5, 7, 12]")
    @CsvSource(delimiter = ';', value = {
            "true; 2,5,7,12", "true; 12", "true; 2,1,1,12", "true; 1", "true; 2,5,7,1", "true; 5,1,12",
            "true; 7,12", "true; 2,1,7,1", "false; 2,5,7,12", "false; 12", "false; 2,1,1,12", "false; 5,7,1",
    })
    void broadcastArithmetic(boolean add, String bShapeText) {
        int[] aShape = {2, 5, 7, 12};
        int[] bShape = java.util.Arrays.stream(bShapeText.split(",")).mapToInt(Integer::parseInt).toArray();
        Tensor a = randn(rnd, Layout.NHWC, aShape), b = randn(rnd, bShape);
        Tensor y = add ? cpu.add(a, b) : cpu.mul(a, b);
        double[] ref = Reference64.broadcast(d(a), aShape, d(b), bShape, add);
        assertClose(add ? "add" : "mul", ref, y, ELEMENTWISE_TOL, aShape);
        assertEquals(Layout.NHWC, y.layout());
    }

    @Test
    void broadcastOverLargeTensorsUsesEveryPiece() {
        // Bigger than one parallel piece, so pieces start mid-row of b.
        int[] aShape = {2, 31, 33, 40};
        Tensor a = randn(rnd, Layout.NHWC, aShape), b = offHeap(randn(rnd, 2, 1, 33, 40));
        double[] ref = Reference64.broadcast(d(a), aShape, d(b), b.shape(), true);
        assertClose("add large", ref, cpu.add(a, b), ELEMENTWISE_TOL, aShape);
    }

    @Test
    void scale() {
        Tensor x = randn(rnd, 2, 5, 7, 13);
        double[] ref = d(x);
        for (int i = 0; i < ref.length; i++) ref[i] *= 0.18215f;
        assertClose("scale", ref, cpu.scale(x, 0.18215f), ELEMENTWISE_TOL, 2, 5, 7, 13);
    }

    @Test
    void inputsAreNotModified() {
        Tensor x = randn(rnd, 3, 17);
        float[] before = x.toFloatArray();
        cpu.silu(x);
        cpu.softmax(x);
        cpu.layerNorm(x, null, null, 1e-5f);
        cpu.add(x, x);
        cpu.scale(x, 2f);
        assertEquals(java.util.Arrays.toString(before), java.util.Arrays.toString(x.toFloatArray()));
    }
}
