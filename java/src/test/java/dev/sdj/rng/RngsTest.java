package dev.sdj.rng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.sched.NoiseSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Names, seeding, state and determinism of the generators (the golden numbers are in RngGoldenTest). */
class RngsTest {

    @Test
    void namesPickTheGenerators() {
        var avx = assertInstanceOf(TorchCpuGenerator.class, Rngs.byName("torch-cpu", 1));
        assertEquals(TorchCpuGenerator.Kernel.AVX2, avx.kernel());
        var scalar = assertInstanceOf(TorchCpuGenerator.class, Rngs.byName("torch-cpu-scalar", 1));
        assertEquals(TorchCpuGenerator.Kernel.SCALAR, scalar.kernel());
        assertInstanceOf(PhiloxGenerator.class, Rngs.byName("philox", 1));
        assertEquals(TorchCpuGenerator.Kernel.AVX2, new TorchCpuGenerator(1).kernel(), "AVX2 is the default");
    }

    @Test
    void anUnknownNameListsTheKnownOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> Rngs.byName("cuda", 1));
        for (String n : Rngs.NAMES) assertTrue(e.getMessage().contains(n), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Rngs.byName(null, 1));
    }

    @Test
    void mt19937MatchesTheCxxStandard() {
        // [rand.predef]: the 10000th consecutive invocation of a default-constructed std::mt19937
        // (seed 5489) produces 4123659995.
        TorchCpuGenerator g = new TorchCpuGenerator(5489);
        int v = 0;
        for (int i = 0; i < 10000; i++) v = g.nextInt();
        assertEquals(4123659995L, v & 0xffffffffL);
    }

    @Test
    void torchSeedsUseTheirLow32Bits() {
        float[] a = new TorchCpuGenerator(0xffffffffL).randn(1, 4, 8, 8);
        float[] b = new TorchCpuGenerator(Long.MAX_VALUE).randn(1, 4, 8, 8);
        assertArrayEquals(a, b);
        // Philox takes all 64 bits.
        assertNotEquals(Arrays.toString(new PhiloxGenerator(0xffffffffL).randn(8)),
                Arrays.toString(new PhiloxGenerator(Long.MAX_VALUE).randn(8)));
    }

    @Test
    void manualSeedRestartsTheStreamAndDropsTheCachedNormal() {
        TorchCpuGenerator g = new TorchCpuGenerator(42, TorchCpuGenerator.Kernel.SCALAR);
        float[] first = g.randn(5); // 3 Box–Muller pairs: one value left in the cache
        float[] big = g.randn(17);
        g.manualSeed(42);
        assertArrayEquals(first, g.randn(5));
        assertArrayEquals(big, g.randn(17));
        assertEquals(42, g.seed());
    }

    @Test
    void theCachedNormalOutlivesALargeDraw() {
        // [5] leaves r·sin of the third pair cached; [17] draws uniforms only; the next small draw starts
        // with the cached value (normal_distribution<double> in DistributionsHelper.h).
        TorchCpuGenerator a = new TorchCpuGenerator(3);
        float[] six = a.randn(6);
        TorchCpuGenerator b = new TorchCpuGenerator(3);
        b.randn(5);
        float[] next = b.randn(1);
        assertEquals(six[5], next[0]);
        TorchCpuGenerator c = new TorchCpuGenerator(3);
        c.randn(5);
        c.randn(17);
        assertEquals(six[5], c.randn(1)[0]);
    }

    @Test
    void emptyAndInvalidShapes() {
        for (String name : Rngs.NAMES) {
            NoiseSource g = Rngs.byName(name, 7);
            assertEquals(0, g.randn(0).length);
            assertEquals(0, g.randn(2, 0, 3).length);
            assertEquals(1, g.randn().length, "a scalar is one element");
            assertThrows(IllegalArgumentException.class, () -> g.randn(2, -1));
        }
    }

    @Test
    void philoxOffsetCountsCalls() {
        PhiloxGenerator g = new PhiloxGenerator(0);
        float[] a = g.randn(4);
        assertEquals(1, g.offset());
        float[] b = g.randn(4);
        assertEquals(2, g.offset());
        assertNotEquals(Arrays.toString(a), Arrays.toString(b));
        // Element i of a call depends on (seed, offset, i) only: a longer draw starts with the same values.
        float[] longer = new PhiloxGenerator(0).randn(9);
        assertArrayEquals(a, Arrays.copyOf(longer, 4));
    }

    @Test
    void philoxMatchesTheCudaOutputInTheWebuiDocstring() {
        // modules/rng_philox.py: Generator(seed=0).randn(shape=(3, 4)), as torch.randn prints it on CUDA.
        // The numpy imitation rounds log/sin differently, by up to 2.4e-7 (tests/golden/README.md, j).
        double[] cuda = {
            -0.92466259, -0.42534415, -2.6438457, 0.14518388,
            -0.12086647, -0.57972564, -0.62285122, -0.32838709,
            -1.07454231, -0.36314407, -1.67105067, 2.26550497};
        float[] got = new PhiloxGenerator(0).randn(3, 4);
        for (int i = 0; i < cuda.length; i++) assertEquals(cuda[i], got[i], 3e-7, "element " + i);
    }

    @Test
    void sameSeedSameNumbersOnAnyNumberOfThreads() throws Exception {
        String[] names = Rngs.NAMES.toArray(String[]::new);
        long[] seeds = {0, 1, 42, 0xffffffffL, Long.MAX_VALUE};
        int[][] shapes = {{1, 4, 13, 7}, {5}, {17}, {2, 4, 8, 8}, {3}};
        List<float[]> reference = drawAll(names, seeds, shapes);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<List<float[]>>> runs = new ArrayList<>();
            for (int t = 0; t < 8; t++) runs.add(pool.submit(() -> drawAll(names, seeds, shapes)));
            for (Future<List<float[]>> run : runs) {
                List<float[]> got = run.get();
                assertEquals(reference.size(), got.size());
                for (int i = 0; i < got.size(); i++) assertArrayEquals(reference.get(i), got.get(i));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<float[]> drawAll(String[] names, long[] seeds, int[][] shapes) {
        List<float[]> out = new ArrayList<>();
        for (String name : names) {
            for (long seed : seeds) {
                NoiseSource g = Rngs.byName(name, seed);
                for (int[] shape : shapes) out.add(g.randn(shape));
            }
        }
        return out;
    }
}
