package dev.sdj.it;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.backend.cuda.CudaBackend;
import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.CudaLibraries.Library;
import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.cuda.Cuda;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every op of the CUDA backend against the CPU backend on random inputs with odd, non-square shapes and batch 2,
 * each output poisoned with NaN before the op writes it. fp32: relative L2 below 1e-5; fp16 and bf16: below
 * 1e-2 (inputs are rounded to the dtype first, so the bound measures the GPU's arithmetic, not the rounding of
 * the inputs). A non-finite element never passes. Skipped, with the reason, without a CUDA device.
 */
class CudaBackendOpsTest {
    enum Precision {
        F32(DType.F32, 1e-5), F16(DType.F16, 1e-2), BF16(DType.BF16, 1e-2);

        final DType dtype;
        final double tol;

        Precision(DType dtype, double tol) {
            this.dtype = dtype;
            this.tol = tol;
        }
    }

    private static final Map<Precision, CudaBackend> GPUS = new EnumMap<>(Precision.class);
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(11);

    @BeforeAll
    static void needsDevice() {
        assumeTrue(CudaLibraries.isAvailable(Library.CUDART), "no CUDA runtime (libcudart.so.13) on this machine");
        assumeTrue(Cuda.deviceCount() > 0, () -> "no CUDA device: " + Cuda.noDeviceReason().getMessage());
    }

    @AfterAll
    static void close() {
        GPUS.values().forEach(CudaBackend::close);
        GPUS.clear();
    }

    private static CudaBackend gpu(Precision p) {
        return GPUS.computeIfAbsent(p, k -> {
            CudaBackend b = new CudaBackend(k.dtype);
            b.setPoisonOutputs(true);
            return b;
        });
    }

    /** A random input, rounded to the dtype: the device copy and the host copy hold the same values. */
    private Tensor[] input(Precision p, Layout layout, int... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        Tensor d = gpu(p).upload(Tensor.of(v, layout, shape));
        Tensor h = gpu(p).download(d);
        return new Tensor[] {h, d};
    }

    private void check(Precision p, String what, Tensor expected, Tensor actualDevice) {
        Tensor actual = gpu(p).download(actualDevice);
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        double num = 0, den = 0;
        for (int i = 0; i < e.length; i++) {
            assertTrue(Float.isFinite(a[i]), () -> what + " " + p + ": non-finite output element");
            double d = (double) a[i] - e[i];
            num += d * d;
            den += (double) e[i] * e[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        System.out.printf("%-28s %-4s relative L2 %.3g%n", what, p, rel);
        assertTrue(rel < p.tol, what + " " + p + ": relative L2 " + rel + " >= " + p.tol);
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void conv2d(Precision p) {
        for (int[] g : new int[][] {{3, 1, 1}, {3, 2, 1}, {1, 1, 0}, {3, 2, 0}}) {
            int k = g[0], stride = g[1], pad = g[2];
            Tensor[] x = input(p, Layout.NHWC, 2, 7, 9, 12);
            Tensor[] w = input(p, Layout.OHWI, 10, k, k, 12);
            Tensor[] b = input(p, Layout.PLAIN, 10);
            check(p, "conv2d k" + k + " s" + stride + " p" + pad, cpu.conv2d(x[0], w[0], b[0], stride, pad),
                    gpu(p).conv2d(x[1], w[1], b[1], stride, pad));
            check(p, "conv2d no bias k" + k, cpu.conv2d(x[0], w[0], null, stride, pad), gpu(p).conv2d(x[1], w[1], null, stride, pad));
        }
        Tensor[] oihw = input(p, Layout.OIHW, 6, 5, 3, 3);
        check(p, "convWeight", cpu.convWeight(oihw[0]), gpu(p).convWeight(oihw[1]));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void linearAndMatmul(Precision p) {
        Tensor[] x = input(p, Layout.PLAIN, 2, 5, 12), w = input(p, Layout.PLAIN, 7, 12), b = input(p, Layout.PLAIN, 7);
        check(p, "linear", cpu.linear(x[0], w[0], b[0]), gpu(p).linear(x[1], w[1], b[1]));
        check(p, "linear no bias", cpu.linear(x[0], w[0], null), gpu(p).linear(x[1], w[1], null));
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                Tensor[] a = ta ? input(p, Layout.PLAIN, 3, 19, 13) : input(p, Layout.PLAIN, 3, 13, 19);
                Tensor[] c = tb ? input(p, Layout.PLAIN, 3, 7, 19) : input(p, Layout.PLAIN, 3, 19, 7);
                check(p, "matmul " + ta + " " + tb, cpu.matmul(a[0], c[0], ta, tb, 0.37f), gpu(p).matmul(a[1], c[1], ta, tb, 0.37f));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void attention(Precision p) {
        int heads = 3;
        Tensor[] q = input(p, Layout.PLAIN, 2, 9, heads * 8), k = input(p, Layout.PLAIN, 2, 13, heads * 8);
        Tensor[] v = input(p, Layout.PLAIN, 2, 13, heads * 5);
        check(p, "attention cross", cpu.attention(q[0], k[0], v[0], heads, false), gpu(p).attention(q[1], k[1], v[1], heads, false));
        Tensor[] s = input(p, Layout.PLAIN, 2, 11, heads * 8), sv = input(p, Layout.PLAIN, 2, 11, heads * 8);
        check(p, "attention causal", cpu.attention(s[0], s[0], sv[0], heads, true), gpu(p).attention(s[1], s[1], sv[1], heads, true));
        Tensor[] one = input(p, Layout.PLAIN, 2, 9, 40);
        check(p, "attention 1 head", cpu.attention(one[0], one[0], one[0], 1, false), gpu(p).attention(one[1], one[1], one[1], 1, false));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void norms(Precision p) {
        Tensor[] x = input(p, Layout.NHWC, 2, 5, 7, 32), g = input(p, Layout.PLAIN, 32), b = input(p, Layout.PLAIN, 32);
        for (boolean silu : new boolean[] {false, true}) {
            check(p, "groupNorm silu " + silu, cpu.groupNorm(x[0], 8, g[0], b[0], 1e-6f, silu), gpu(p).groupNorm(x[1], 8, g[1], b[1], 1e-6f, silu));
        }
        Tensor[] r = input(p, Layout.PLAIN, 2, 9, 24), lg = input(p, Layout.PLAIN, 24), lb = input(p, Layout.PLAIN, 24);
        check(p, "layerNorm", cpu.layerNorm(r[0], lg[0], lb[0], 1e-5f), gpu(p).layerNorm(r[1], lg[1], lb[1], 1e-5f));
        check(p, "layerNorm no affine", cpu.layerNorm(r[0], null, null, 1e-5f), gpu(p).layerNorm(r[1], null, null, 1e-5f));
        check(p, "softmax", cpu.softmax(r[0]), gpu(p).softmax(r[1]));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void activations(Precision p) {
        Tensor[] x = input(p, Layout.PLAIN, 2, 7, 30);
        check(p, "silu", cpu.silu(x[0]), gpu(p).silu(x[1]));
        check(p, "gelu erf", cpu.gelu(x[0], false), gpu(p).gelu(x[1], false));
        check(p, "gelu tanh", cpu.gelu(x[0], true), gpu(p).gelu(x[1], true));
        check(p, "quickGelu", cpu.quickGelu(x[0]), gpu(p).quickGelu(x[1]));
        check(p, "geglu", cpu.geglu(x[0]), gpu(p).geglu(x[1]));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void resamplingAndLayout(Precision p) {
        Tensor[] x = input(p, Layout.NHWC, 2, 5, 7, 6);
        check(p, "upsample 2x", cpu.upsampleNearest2x(x[0]), gpu(p).upsampleNearest2x(x[1]));
        check(p, "upsample 11x13", cpu.upsampleNearest(x[0], 11, 13), gpu(p).upsampleNearest(x[1], 11, 13));
        check(p, "pad2d", cpu.pad2d(x[0], 0, 1, 0, 1), gpu(p).pad2d(x[1], 0, 1, 0, 1));
        Tensor[] y = input(p, Layout.NHWC, 2, 5, 7, 3);
        check(p, "concatChannels", cpu.concatChannels(x[0], y[0]), gpu(p).concatChannels(x[1], y[1]));
        Tensor[] nchw = input(p, Layout.NCHW, 2, 6, 5, 7);
        check(p, "nchwToNhwc", cpu.nchwToNhwc(nchw[0]), gpu(p).nchwToNhwc(nchw[1]));
        check(p, "nhwcToNchw", cpu.nhwcToNchw(x[0]), gpu(p).nhwcToNchw(x[1]));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void arithmetic(Precision p) {
        Tensor[] a = input(p, Layout.NHWC, 2, 5, 7, 6), same = input(p, Layout.NHWC, 2, 5, 7, 6);
        Tensor[] temb = input(p, Layout.NHWC, 2, 1, 1, 6), row = input(p, Layout.PLAIN, 6);
        check(p, "add", cpu.add(a[0], same[0]), gpu(p).add(a[1], same[1]));
        check(p, "add broadcast (B,1,1,C)", cpu.add(a[0], temb[0]), gpu(p).add(a[1], temb[1]));
        check(p, "add broadcast (C)", cpu.add(a[0], row[0]), gpu(p).add(a[1], row[1]));
        check(p, "mul broadcast", cpu.mul(a[0], temb[0]), gpu(p).mul(a[1], temb[1]));
        check(p, "scale", cpu.scale(a[0], -0.3f), gpu(p).scale(a[1], -0.3f));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void embeddingsAndCasts(Precision p) {
        float[] t = {999f, 500.5f, 1f, 0f};
        BiFunction<Backend, Integer, Tensor> emb = (b, dim) -> b.timestepEmbedding(t, dim, true, 0f, 1f, 10000f);
        check(p, "timestepEmbedding 320", emb.apply(cpu, 320), emb.apply(gpu(p), 320));
        check(p, "timestepEmbedding 33", cpu.timestepEmbedding(t, 33, false, 1f, 1f, 10000f),
                gpu(p).timestepEmbedding(t, 33, false, 1f, 1f, 10000f));
        Tensor[] x = input(p, Layout.PLAIN, 3, 17);
        Tensor wide = gpu(p).cast(x[1], DType.F32);
        assertEquals(DType.F32, wide.dtype());
        assertArrayEquals(x[0].toFloatArray(), gpu(p).download(wide).toFloatArray(), 0f);
        assertEquals(0, gpu(p).countNonFinite(x[1]));
        float[] bad = new float[100];
        bad[3] = Float.NaN;
        bad[77] = Float.POSITIVE_INFINITY;
        assertEquals(2, gpu(p).countNonFinite(gpu(p).upload(Tensor.of(bad, 100))));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void scopesReuseMemoryAndUploadsOfEveryDtypeConvert(Precision p) {
        CudaBackend g = gpu(p);
        float[] v = {1.5f, -2.25f, 3f};
        Tensor f16 = Tensor.of(v, 3).to(DType.F16), bf16 = Tensor.of(v, 3).to(DType.BF16);
        assertArrayEquals(v, g.download(g.upload(f16)).toFloatArray(), 0f);
        assertArrayEquals(v, g.download(g.upload(bf16)).toFloatArray(), 0f);
        try (Backend.Scope s = g.scope()) {
            g.silu(g.upload(Tensor.of(new float[1 << 20], 1 << 20)));
        }
        String after1 = g.memoryUsage();
        try (Backend.Scope s = g.scope()) {
            g.silu(g.upload(Tensor.of(new float[1 << 20], 1 << 20)));
        }
        assertEquals(after1, g.memoryUsage(), "a second identical scope must not allocate");
    }
}
