package dev.sdj.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** FLOP counts from shapes (checked against hand-computed values) and transparent delegation. */
class CountingBackendTest {

    private static Tensor random(Layout layout, long seed, int... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextDouble() - 0.5);
        return Tensor.of(v, layout, shape);
    }

    @Test
    void conv2dCountsTwoFlopsPerMultiplyAddOfTheOutput() {
        try (CountingBackend b = new CountingBackend(new CpuBackend())) {
            // SD1.5 conv at a 32×32 latent, CFG batch: N=2, 32×32, 320 → 320, 3×3, padding 1.
            // 2 · (2·32·32 pixels) · 320 out · (3·3·320) depth = 2 · 2048 · 320 · 2880 = 3 774 873 600.
            Tensor x = random(Layout.NHWC, 1, 2, 32, 32, 320);
            Tensor w = random(Layout.OHWI, 2, 320, 3, 3, 320);
            b.conv2d(x, w, random(Layout.PLAIN, 3, 320), 1, 1);
            assertEquals(3_774_873_600L, b.flops());
            // Stride 2, no bias: 2×16×16 outputs of 320 from 3·3·320: 2 · 512 · 320 · 2880 = 943 718 400 more.
            b.conv2d(x, w, null, 2, 2, 1, 1);
            assertEquals(3_774_873_600L + 943_718_400L, b.flops());
            assertEquals(2, b.stats(CountingBackend.Kind.CONV2D).calls());
            assertEquals(0, b.stats(CountingBackend.Kind.LINEAR).calls());
        }
    }

    @Test
    void linearCountsEveryRowOfEveryLeadingDim() {
        try (CountingBackend b = new CountingBackend(new CpuBackend())) {
            // (2, 77, 768) · (320, 768)ᵀ: 2 · 154 rows · 320 · 768 = 75 694 080 (a cross-attention to_k).
            b.linear(random(Layout.PLAIN, 4, 2, 77, 768), random(Layout.PLAIN, 5, 320, 768), null);
            assertEquals(75_694_080L, b.flops());
            assertEquals(75_694_080L, b.stats(CountingBackend.Kind.LINEAR).flops());
        }
    }

    @Test
    void matmulAndAttention() {
        try (CountingBackend b = new CountingBackend(new CpuBackend())) {
            // batch 3 of (5×7)·(7×11), a transposed: 2 · 3 · 5 · 11 · 7 = 2310.
            b.matmul(random(Layout.PLAIN, 6, 3, 7, 5), random(Layout.PLAIN, 7, 3, 7, 11), true, false, 1f);
            assertEquals(2310L, b.stats(CountingBackend.Kind.MATMUL).flops());
            // Self-attention, SD1.5 at a 32×32 latent: B=2, 8 heads of 40, 1024 queries and keys:
            // Q·Kᵀ 2·2·8·1024·1024·40 + P·V the same = 2 · 2 · 8 · 1024 · 1024 · 80 = 2 684 354 560.
            Tensor q = random(Layout.PLAIN, 8, 2, 1024, 320);
            b.attention(q, q, q, 8, false);
            assertEquals(2_684_354_560L, b.stats(CountingBackend.Kind.ATTENTION).flops());
            // Cross-attention with different key and value widths: B=1, 2 heads, Lq=3, Lk=5, D=4, Dv=6:
            // 2 · 1 · 2 · 3 · 5 · (4 + 6) = 600.
            b.attention(random(Layout.PLAIN, 9, 1, 3, 8), random(Layout.PLAIN, 10, 1, 5, 8), random(Layout.PLAIN, 11, 1, 5, 12), 2, false);
            assertEquals(2_684_354_560L + 600L, b.stats(CountingBackend.Kind.ATTENTION).flops());
            assertEquals(2310L + 2_684_354_560L + 600L, b.flops());
        }
    }

    @Test
    void formulasOnShapesAlone() {
        assertEquals(2L * 2 * 64 * 64 * 320 * 9 * 320, CountingBackend.conv2dFlops(2, 64, 64, 320, 3, 3, 320));
        assertEquals(2L * 4096 * 1280 * 320, CountingBackend.linearFlops(4096, 320, 1280));
        assertEquals(2L * 16 * 4096 * 4096 * 40, CountingBackend.matmulFlops(16, 4096, 4096, 40));
        // Large enough to overflow int arithmetic: SD1.5 attention at 64×64, 2 · 2 · 8 · 4096² · 80.
        assertEquals(42_949_672_960L, CountingBackend.attentionFlops(2, 8, 4096, 4096, 40, 40));
    }

    @Test
    void otherOpsAreCountedAsCallsWithoutFlopsAndResetClears() {
        try (CountingBackend b = new CountingBackend(new CpuBackend())) {
            Tensor x = random(Layout.NHWC, 12, 1, 4, 4, 8);
            b.groupNorm(x, 2, random(Layout.PLAIN, 13, 8), random(Layout.PLAIN, 14, 8), 1e-5f, true);
            b.add(x, x);
            b.silu(x);
            assertEquals(0, b.flops());
            assertEquals(1, b.stats(CountingBackend.Kind.GROUP_NORM).calls());
            assertEquals(1, b.stats(CountingBackend.Kind.ELEMENTWISE).calls());
            assertEquals(1, b.stats(CountingBackend.Kind.ACTIVATION).calls());
            assertEquals(0, b.nanos(), "no timing unless asked for");
            b.linear(random(Layout.PLAIN, 15, 2, 8), random(Layout.PLAIN, 16, 3, 8), null);
            b.reset();
            assertEquals(0, b.flops());
            assertEquals(0, b.stats(CountingBackend.Kind.LINEAR).calls());
        }
    }

    @Test
    void resultsAreTheInnerBackendsAndTimingProfiles() {
        CpuBackend cpu = new CpuBackend();
        try (CountingBackend b = new CountingBackend(cpu, true)) {
            assertEquals("cpu", b.name());
            assertSame(cpu, b.inner());
            Tensor x = random(Layout.PLAIN, 17, 5, 64), w = random(Layout.PLAIN, 18, 96, 64), bias = random(Layout.PLAIN, 19, 96);
            // The same weight twice: the second call reuses the CPU backend's packed copy of it.
            float[] first = b.linear(x, w, bias).toFloatArray(), second = b.linear(x, w, bias).toFloatArray();
            float[] direct = cpu.linear(x, w, bias).toFloatArray();
            assertArrayEquals(direct, first);
            assertArrayEquals(direct, second);
            float[] xs = x.toFloatArray(), ws = w.toFloatArray(), bs = bias.toFloatArray();
            for (int r = 0; r < 5; r++) {
                for (int o = 0; o < 96; o++) {
                    double acc = bs[o];
                    for (int i = 0; i < 64; i++) acc += (double) xs[r * 64 + i] * ws[o * 64 + i];
                    assertEquals(acc, first[r * 96 + o], 1e-4, "linear[" + r + "," + o + "]");
                }
            }
            assertEquals(2, b.stats(CountingBackend.Kind.LINEAR).calls());
            assertTrue(b.nanos() > 0);
            String profile = b.profile(5, 1);
            assertTrue(profile.contains("linear") && profile.contains("linear 5x64 96x64"), profile);
        }
    }

    @Test
    void errorsComeFromTheInnerBackend() {
        try (CountingBackend b = new CountingBackend(new CpuBackend())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.linear(random(Layout.PLAIN, 20, 2, 7), random(Layout.PLAIN, 21, 3, 8), null));
            assertTrue(e.getMessage().startsWith("linear:"), e.getMessage());
            assertEquals(0, b.flops(), "a rejected call counts nothing");
        }
        assertThrows(IllegalArgumentException.class, () -> new CountingBackend(null));
    }
}
