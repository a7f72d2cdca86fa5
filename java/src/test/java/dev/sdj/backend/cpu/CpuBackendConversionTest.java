package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.CpuTestSupport.assertClose;
import static dev.sdj.backend.cpu.CpuTestSupport.assertRejects;
import static dev.sdj.backend.cpu.CpuTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Timestep embeddings, dtype casts, upload/download and the layout permutes. */
class CpuBackendConversionTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(3);

    // ---- timestepEmbedding ----

    /**
     * Against the float64 formula. diffusers computes the frequencies and t · freq in float32, so
     * the argument of sin/cos carries a relative error of a few float ulps (~|exponent| · 2^−24 from
     * exp); |arg| · 4e-7 bounds that, plus 1e-6 for sin/cos themselves.
     */
    private void checkEmbedding(float[] t, int dim, boolean flip, float shift, float scale) {
        Tensor y = cpu.timestepEmbedding(t, dim, flip, shift, scale, 10000f);
        assertArrayEquals(new int[] {t.length, dim}, y.shape());
        double[] tt = new double[t.length];
        for (int i = 0; i < t.length; i++) tt[i] = t[i];
        double[] ref = Reference64.timestepEmbedding(tt, dim, flip, shift, scale, 10000);
        for (int r = 0; r < t.length; r++) {
            double tol = 1e-6 + Math.abs(t[r] * scale) * 4e-7;
            for (int j = 0; j < dim; j++) {
                assertEquals(ref[r * dim + j], y.getFloat((long) r * dim + j), tol, "t=" + t[r] + " column " + j);
            }
        }
    }

    @Test
    void timestepEmbeddingStableDiffusion() {
        // SD's UNet: dim 320, flip_sin_to_cos = True, freq_shift = 0.
        checkEmbedding(new float[] {999f, 500f, 1f, 0f, 37.5f}, 320, true, 0f, 1f);
    }

    @Test
    void timestepEmbeddingOddDimShiftAndScale() {
        checkEmbedding(new float[] {999f, 3f}, 7, false, 1f, 1f);
        checkEmbedding(new float[] {999f, 3f}, 7, true, 0f, 1f);
        checkEmbedding(new float[] {0.25f, 10f}, 12, false, 1f, 2.5f);
        Tensor odd = cpu.timestepEmbedding(new float[] {123f}, 7, true, 1f, 1f, 10000f);
        assertEquals(0f, odd.getFloat(6), 0f, "odd dim pads a zero last column");
    }

    @Test
    void timestepEmbeddingKnownPoints() {
        int dim = 320, half = 160;
        Tensor y = cpu.timestepEmbedding(new float[] {0f, 999f}, dim, true, 0f, 1f, 10000f);
        for (int i = 0; i < half; i++) {
            assertEquals(1f, y.getFloat(i), 0f, "t=0: cos 0 = 1");
            assertEquals(0f, y.getFloat(half + i), 0f, "t=0: sin 0 = 0");
        }
        // Frequency 0 is exp(0) = 1 exactly, so column 0 is cos(999) and column half sin(999).
        assertEquals((float) Math.cos(999), y.getFloat(dim), 0f);
        assertEquals((float) Math.sin(999), y.getFloat(dim + half), 0f);
        Tensor unflipped = cpu.timestepEmbedding(new float[] {999f}, dim, false, 0f, 1f, 10000f);
        assertEquals((float) Math.sin(999), unflipped.getFloat(0), 0f);
        assertEquals((float) Math.cos(999), unflipped.getFloat(half), 0f);
    }

    // ---- cast, upload, download ----

    @Test
    void castToF16RoundsToNearestEven() {
        // 1 + 2^−11 is halfway between F16 1.0 (0x3C00) and 1 + 2^−10 (0x3C01): even wins, 0x3C00.
        // 1 + 3·2^−11 is halfway between 0x3C01 and 0x3C02: even wins, 0x3C02.
        float[] v = {1f, -2f, 65504f, 1f + 0x1p-11f, 1f + 3 * 0x1p-11f, 0.1f};
        short[] expected = {0x3C00, (short) 0xC000, 0x7BFF, 0x3C00, 0x3C02, 0x2E66};
        Tensor h = cpu.cast(Tensor.of(v, Layout.NHWC, 1, 1, 2, 3), DType.F16);
        assertEquals(DType.F16, h.dtype());
        assertEquals(Layout.NHWC, h.layout());
        for (int i = 0; i < v.length; i++) assertEquals(expected[i], h.data().getAtIndex(I16, i), "F16 bits of " + v[i]);
        float[] back = cpu.upload(h).toFloatArray();
        assertEquals(1f, back[0]);
        assertEquals(65504f, back[2]);
        assertEquals(1f, back[3]);
        assertEquals(1f + 0x1p-9f, back[4]);
        assertEquals(0.0999755859375f, back[5]);
    }

    @Test
    void castToBf16RoundsToNearestEven() {
        // BF16 keeps 7 mantissa bits: 1 + 2^−8 ties to 1.0, 1 + 3·2^−8 ties to 1 + 2^−6.
        float[] v = {1f, 1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -3.140625f, 1e30f};
        short[] expected = {0x3F80, 0x3F80, 0x3F82, (short) 0xC049, 0x714A}; // 1e30f is 0x7149F2CA: rounds up
        Tensor b = cpu.cast(Tensor.of(v, 5), DType.BF16);
        for (int i = 0; i < v.length; i++) assertEquals(expected[i], b.data().getAtIndex(I16, i), "BF16 bits of " + v[i]);
        float[] back = cpu.download(b).toFloatArray();
        assertEquals(1f, back[1]);
        assertEquals(1f + 0x1p-6f, back[2]);
        assertEquals(-3.140625f, back[3]);
    }

    @Test
    void castToSameDtypeCopies() {
        Tensor x = randn(rnd, 3, 5);
        Tensor y = cpu.cast(x, DType.F32);
        assertNotSame(x.data().heapBase().orElseThrow(), y.data().heapBase().orElseThrow());
        assertArrayEquals(x.toFloatArray(), y.toFloatArray());
    }

    @Test
    void uploadConvertsAnyHostDtypeAndKeepsLayout() {
        Tensor f32 = randn(rnd, Layout.OIHW, 2, 3, 1, 1);
        assertSame(f32, cpu.upload(f32), "F32 host tensors are used as they are");
        assertSame(f32, cpu.download(f32));

        Tensor f64 = Tensor.zeros(DType.F64, Layout.NCHW, 1, 2, 1, 2);
        Tensor i32 = Tensor.zeros(DType.I32, Layout.PLAIN, 3);
        for (int i = 0; i < 4; i++) f64.setFloat(i, i * 0.5f - 1);
        for (int i = 0; i < 3; i++) i32.setFloat(i, i - 1);
        Tensor a = cpu.upload(f64), b = cpu.upload(i32);
        assertEquals(DType.F32, a.dtype());
        assertEquals(Device.CPU, a.device());
        assertEquals(Layout.NCHW, a.layout());
        assertArrayEquals(new float[] {-1f, -0.5f, 0f, 0.5f}, a.toFloatArray());
        assertArrayEquals(new float[] {-1f, 0f, 1f}, b.toFloatArray());
    }

    @Test
    void uploadOfMappedF16() {
        // An F16 weight in a byte segment, as in a safetensors file.
        MemorySegment seg = MemorySegment.ofArray(new byte[6]);
        seg.setAtIndex(I16, 0, (short) 0x3C00);
        seg.setAtIndex(I16, 1, (short) 0xC500);
        seg.setAtIndex(I16, 2, (short) 0x3555);
        Tensor h = new Tensor(seg, DType.F16, Layout.PLAIN, Device.CPU, 3);
        assertArrayEquals(new float[] {1f, -5f, Float.float16ToFloat((short) 0x3555)}, cpu.upload(h).toFloatArray());
    }

    // ---- layout permutes ----

    /** Each element holds its own NCHW index, so any misplacement shows. */
    private static Tensor indexed(Layout layout, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return Tensor.of(v, layout, shape);
    }

    @Test
    void nchwToNhwcMapsEveryIndex() {
        int n = 2, c = 3, h = 5, w = 7;
        Tensor y = cpu.nchwToNhwc(indexed(Layout.NCHW, n, c, h, w));
        assertArrayEquals(new int[] {n, h, w, c}, y.shape());
        assertEquals(Layout.NHWC, y.layout());
        for (int b = 0; b < n; b++)
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++)
                    for (int ch = 0; ch < c; ch++) {
                        float expected = ((b * c + ch) * h + yy) * w + xx;
                        assertEquals(expected, y.getFloat(((b * h + yy) * w + xx) * c + ch));
                    }
    }

    @Test
    void layoutPermutesRoundTrip() {
        Tensor x = randn(rnd, Layout.NHWC, 2, 5, 7, 12);
        Tensor nchw = cpu.nhwcToNchw(x);
        assertArrayEquals(new int[] {2, 12, 5, 7}, nchw.shape());
        assertEquals(Layout.NCHW, nchw.layout());
        // x[1, 4, 6, 11] lands at nchw[1, 11, 4, 6]
        assertEquals(x.getFloat(((1 * 5 + 4) * 7 + 6) * 12 + 11), nchw.getFloat(((1 * 12 + 11) * 5 + 4) * 7 + 6));
        Tensor back = cpu.nchwToNhwc(nchw);
        assertArrayEquals(x.toFloatArray(), back.toFloatArray());
        assertArrayEquals(x.shape(), back.shape());
    }

    @Test
    void convWeightMapsOihwToOhwi() {
        int o = 4, i = 3, kh = 3, kw = 2;
        Tensor w = cpu.convWeight(indexed(Layout.OIHW, o, i, kh, kw));
        assertArrayEquals(new int[] {o, kh, kw, i}, w.shape());
        assertEquals(Layout.OHWI, w.layout());
        for (int a = 0; a < o; a++)
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    for (int c = 0; c < i; c++) {
                        assertEquals((float) (((a * i + c) * kh + y) * kw + x), w.getFloat(((a * kh + y) * kw + x) * i + c));
                    }
    }

    @Test
    void layoutOpsRejectTheWrongSource() {
        assertRejects("nchwToNhwc", () -> cpu.nchwToNhwc(randn(rnd, Layout.NHWC, 1, 2, 3, 4)), "already NHWC");
        assertRejects("nhwcToNchw", () -> cpu.nhwcToNchw(randn(rnd, Layout.NCHW, 1, 2, 3, 4)), "already NCHW");
        assertRejects("convWeight", () -> cpu.convWeight(randn(rnd, Layout.OHWI, 1, 2, 3, 4)), "already OHWI");
        assertRejects("nchwToNhwc", () -> cpu.nchwToNhwc(randn(rnd, 2, 3, 4)), "[2, 3, 4]", "rank 4");
    }

    @Test
    void scaleAndOffHeapKeepValues() {
        Tensor x = CpuTestSupport.offHeap(randn(rnd, 3, 7));
        double[] ref = CpuTestSupport.d(x);
        for (int k = 0; k < ref.length; k++) ref[k] *= -2;
        assertClose("scale off-heap", ref, cpu.scale(x, -2f), 0, 3, 7);
    }
}
