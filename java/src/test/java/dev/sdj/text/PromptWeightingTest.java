package dev.sdj.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import dev.sdj.text.PromptChunks.Chunk;
import dev.sdj.text.PromptWeighting.Mode;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PromptWeightingTest {

    private static final int T = PromptChunks.CONTEXT_LENGTH, D = 16;

    /** Hidden-state-like values with a clearly non-zero mean. */
    private static float[] hidden(int batch, long seed) {
        Random r = new Random(seed);
        float[] z = new float[batch * T * D];
        for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextGaussian() + 0.3);
        return z;
    }

    private static float[] ones() {
        float[] w = new float[T];
        Arrays.fill(w, 1f);
        return w;
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) s += x;
        return s / v.length;
    }

    @Test
    void allWeightsOneLeaveZUnchanged() {
        float[] z = hidden(1, 1);
        float[] out = PromptWeighting.emphasize(z, 1, D, ones());
        assertArrayEquals(z, out);
        assertNotSame(z, out);
    }

    @Test
    void theMeanIsRestored() {
        float[] z = hidden(1, 2), w = ones();
        w[3] = 1.5f;
        w[10] = 0.7f;
        Arrays.fill(w, 20, 30, 1.21f);
        float[] out = PromptWeighting.emphasize(z, 1, D, w);
        assertEquals(mean(z), mean(out), 1e-6 * Math.abs(mean(z)));
    }

    @Test
    void aWeightedTokenIsScaledRelativeToTheOthers() {
        float[] z = hidden(1, 3), w = ones();
        w[5] = 2f;
        float[] out = PromptWeighting.emphasize(z, 1, D, w);
        // every unweighted row is scaled by the same ratio r = mean(z) / mean(z·w), the weighted one by 2·r
        double meanW = 0;
        for (int t = 0; t < T; t++) for (int d = 0; d < D; d++) meanW += (double) z[t * D + d] * w[t];
        double r = mean(z) / (meanW / z.length);
        assertTrue(r < 1, "raising a weight lowers the others: " + r);
        for (int t = 0; t < T; t++) {
            for (int d = 0; d < D; d++) {
                int i = t * D + d;
                assertEquals(z[i] * w[t] * r, out[i], 1e-6 * Math.abs(z[i]) * 2, "t " + t + " d " + d);
            }
        }
        assertEquals(2.0, (out[5 * D] / z[5 * D]) / (out[6 * D] / z[6 * D]), 1e-6);
    }

    @Test
    void noNormModeOnlyScalesRows() {
        float[] z = hidden(1, 4), w = ones();
        w[1] = 1.1f;
        float[] out = PromptWeighting.emphasize(z, 1, D, w, Mode.NO_NORM);
        for (int i = 0; i < z.length; i++) assertEquals(z[i] * w[i / D], out[i]);
    }

    @Test
    void aZeroMeanAfterWeightingIsNotFiniteAsInA1111() {
        float[] z = new float[T * D];
        for (int i = 0; i < z.length; i++) z[i] = i % 2 == 0 ? 1 : -1; // mean 0
        float[] out = PromptWeighting.emphasize(z, 1, D, ones());
        assertTrue(Float.isNaN(out[0])); // 0 / 0, as torch computes it
    }

    @Test
    void tensorFormTakesTheMeanOverTheWholeBatch() {
        float[] z = hidden(2, 5), w = ones();
        w[7] = 1.3f;
        Tensor out = PromptWeighting.emphasize(Tensor.of(z, 2, T, D), w);
        assertArrayEquals(new int[] {2, T, D}, out.shape());
        assertArrayEquals(PromptWeighting.emphasize(z, 2, D, w), out.toFloatArray());
        // any float dtype in; fp32 out
        Tensor f16 = Tensor.of(z, 2, T, D).to(DType.F16);
        assertEquals(DType.F32, PromptWeighting.emphasize(f16, w).dtype());
        assertThrows(IllegalArgumentException.class, () -> PromptWeighting.emphasize(Tensor.of(z, 2 * T, D), w));
        assertThrows(IllegalArgumentException.class, () -> PromptWeighting.emphasize(z, 1, D, w));
    }

    @Test
    void concatJoinsAlongTheSequence() {
        float[] a = {1, 2, 3, 4, 5, 6, 7, 8}; // (2, 2, 2)
        float[] b = {10, 20, 30, 40}; // (2, 1, 2)
        Tensor c = PromptWeighting.concat(List.of(Tensor.of(a, 2, 2, 2), Tensor.of(b, 2, 1, 2)));
        assertArrayEquals(new int[] {2, 3, 2}, c.shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 10, 20, 5, 6, 7, 8, 30, 40}, c.toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> PromptWeighting.concat(List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> PromptWeighting.concat(List.of(Tensor.of(a, 2, 2, 2), Tensor.of(b, 1, 2, 2))));
    }

    @Test
    void backendFormsMatchTheHostOnes() {
        float[] z0 = hidden(1, 6), z1 = hidden(1, 7), w0 = ones(), w1 = ones();
        w0[2] = 1.4f;
        w1[40] = 0.5f;
        Chunk c0 = new Chunk(new int[T], w0), c1 = new Chunk(new int[T], w1);
        try (Backend backend = new CpuBackend()) {
            Tensor d0 = backend.upload(Tensor.of(z0, 1, T, D)), d1 = backend.upload(Tensor.of(z1, 1, T, D));
            Tensor e0 = PromptWeighting.emphasize(backend, d0, w0);
            assertArrayEquals(PromptWeighting.emphasize(z0, 1, D, w0), backend.download(e0).toFloatArray());

            Tensor all = PromptWeighting.apply(backend, List.of(d0, d1), List.of(c0, c1));
            assertArrayEquals(new int[] {1, 2 * T, D}, all.shape());
            Tensor want = PromptWeighting.concat(List.of(Tensor.of(PromptWeighting.emphasize(z0, 1, D, w0), 1, T, D),
                    Tensor.of(PromptWeighting.emphasize(z1, 1, D, w1), 1, T, D)));
            assertArrayEquals(want.toFloatArray(), backend.download(all).toFloatArray());

            Tensor joined = PromptWeighting.concat(backend, List.of(d0, d1));
            assertArrayEquals(new int[] {1, 2 * T, D}, joined.shape());
            assertSame(d0, PromptWeighting.concat(backend, List.of(d0)));
            assertThrows(IllegalArgumentException.class, () -> PromptWeighting.apply(backend, List.of(d0), List.of(c0, c1)));
        }
    }
}
