package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.CpuTestSupport.assertRejects;
import static dev.sdj.backend.cpu.CpuTestSupport.randn;

import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** Every op checks its arguments and names itself and the shapes in the exception. */
class CpuBackendErrorsTest {
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(11);

    private Tensor t(int... shape) {
        return randn(rnd, shape);
    }

    private Tensor nhwc(int... shape) {
        return randn(rnd, Layout.NHWC, shape);
    }

    @Test
    void conv2d() {
        Tensor x = nhwc(2, 64, 64, 3);
        assertRejects("conv2d", () -> cpu.conv2d(x, randn(rnd, Layout.OHWI, 320, 3, 3, 4), null, 1, 1),
                "weight OHWI [320, 3, 3, 4] expects 4 input channels, x NHWC [2, 64, 64, 3] has 3");
        assertRejects("conv2d", () -> cpu.conv2d(x, randn(rnd, Layout.OHWI, 8, 3, 3, 3), t(7), 1, 1), "bias", "[7]", "[8]");
        assertRejects("conv2d", () -> cpu.conv2d(x, randn(rnd, Layout.OIHW, 8, 3, 3, 3), null, 1, 1), "OIHW", "convWeight");
        assertRejects("conv2d", () -> cpu.conv2d(randn(rnd, Layout.NCHW, 2, 3, 8, 8), randn(rnd, Layout.OHWI, 8, 3, 3, 3),
                null, 1, 1), "NCHW", "nchwToNhwc");
        assertRejects("conv2d", () -> cpu.conv2d(t(64, 64, 3), randn(rnd, Layout.OHWI, 8, 3, 3, 3), null, 1, 1), "rank 4");
        assertRejects("conv2d", () -> cpu.conv2d(x, randn(rnd, Layout.OHWI, 8, 3, 3, 3), null, 0, 1), "stride");
        assertRejects("conv2d", () -> cpu.conv2d(nhwc(1, 2, 2, 3), randn(rnd, Layout.OHWI, 8, 5, 5, 3), null, 1, 0),
                "larger than");
    }

    @Test
    void linearAndMatmul() {
        assertRejects("linear", () -> cpu.linear(t(2, 7, 10), t(5, 11), null), "[5, 11]", "[2, 7, 10]", "11 input features");
        assertRejects("linear", () -> cpu.linear(t(2, 10), t(5, 10), t(4)), "bias", "[4]");
        assertRejects("linear", () -> cpu.linear(t(2, 10), t(5, 10, 1), null), "rank 2");
        assertRejects("matmul", () -> cpu.matmul(t(2, 3, 4), t(2, 5, 6), false, false, 1f), "[2, 3, 4]", "[2, 5, 6]");
        assertRejects("matmul", () -> cpu.matmul(t(2, 3, 4), t(3, 4, 6), false, false, 1f), "batch");
        assertRejects("matmul", () -> cpu.matmul(t(3, 4), t(4, 6), false, false, 1f), "rank 3");
    }

    @Test
    void norms() {
        assertRejects("groupNorm", () -> cpu.groupNorm(nhwc(2, 5, 7, 12), 5, t(12), t(12), 1e-5f, false),
                "5 groups", "12 channels", "[2, 5, 7, 12]");
        assertRejects("groupNorm", () -> cpu.groupNorm(nhwc(2, 5, 7, 12), 4, t(11), t(12), 1e-5f, false), "gamma", "[11]");
        assertRejects("groupNorm", () -> cpu.groupNorm(nhwc(2, 5, 7, 12), 4, t(12), null, 1e-5f, false), "beta is null");
        assertRejects("groupNorm", () -> cpu.groupNorm(t(35, 12), 4, t(12), t(12), 1e-5f, false), "rank 4");
        assertRejects("layerNorm", () -> cpu.layerNorm(t(2, 9), t(8), null, 1e-5f), "gamma", "[8]", "[2, 9]");
        assertRejects("layerNorm", () -> cpu.layerNorm(t(2, 9), null, t(10), 1e-5f), "beta", "[10]");
        assertRejects("softmax", () -> cpu.softmax(Tensor.of(new float[] {1}, new int[0])), "rank >= 1");
    }

    @Test
    void attention() {
        assertRejects("attention", () -> cpu.attention(t(2, 35, 40), t(2, 77, 30), t(2, 77, 40), 5, false),
                "q [2, 35, 40]", "k [2, 77, 30]", "heads");
        assertRejects("attention", () -> cpu.attention(t(2, 35, 40), t(2, 77, 40), t(2, 76, 40), 5, false), "keys");
        assertRejects("attention", () -> cpu.attention(t(2, 35, 40), t(1, 77, 40), t(1, 77, 40), 5, false), "batch");
        assertRejects("attention", () -> cpu.attention(t(2, 35, 40), t(2, 77, 40), t(2, 77, 40), 3, false), "3 heads");
        assertRejects("attention", () -> cpu.attention(t(2, 35, 40), t(2, 77, 40), t(2, 77, 40), 0, false), "0 heads");
    }

    @Test
    void activationsResamplingArithmetic() {
        assertRejects("geglu", () -> cpu.geglu(t(2, 7)), "[2, 7]", "even");
        assertRejects("upsampleNearest", () -> cpu.upsampleNearest(nhwc(2, 5, 7, 3), 0, 4), "output size");
        assertRejects("upsampleNearest", () -> cpu.upsampleNearest(t(5, 7, 3), 10, 14), "rank 4");
        assertRejects("concatChannels", () -> cpu.concatChannels(nhwc(2, 5, 7, 3), nhwc(2, 5, 6, 3)),
                "[2, 5, 7, 3]", "[2, 5, 6, 3]");
        assertRejects("add", () -> cpu.add(nhwc(2, 5, 7, 12), t(11)), "b [11] does not broadcast to a [2, 5, 7, 12]");
        assertRejects("add", () -> cpu.add(t(7, 12), t(2, 7, 12)), "[2, 7, 12]");
        assertRejects("mul", () -> cpu.mul(nhwc(2, 5, 7, 12), t(3, 1, 12)), "[3, 1, 12]");
        assertRejects("timestepEmbedding", () -> cpu.timestepEmbedding(new float[] {1}, 0, true, 0, 1, 10000), "dim 0");
        assertRejects("timestepEmbedding", () -> cpu.timestepEmbedding(new float[] {1}, 2, true, 1, 1, 10000), "is 0");
    }

    @Test
    void nonF32InputsAskForUpload() {
        Tensor half = t(2, 3).to(DType.F16);
        assertRejects("silu", () -> cpu.silu(half), "F16", "upload()");
        assertRejects("linear", () -> cpu.linear(t(4, 3), half, null), "weight", "F16", "upload()");
        assertRejects("add", () -> cpu.add(t(2, 3), t(3).to(DType.BF16)), "b", "BF16");
        assertRejects("silu", () -> cpu.silu(null), "x is null");
    }
}
