package dev.sdj.model;

import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * Deterministic random parameters of any shape, for benchmarks and for building full-size
 * configs without downloading weights. Scaled like PyTorch's default init, so activations stay
 * O(1) through a deep U-Net: weights uniform in ±1/√fan_in, biases ±0.02, norm scales 1 and
 * shifts 0. Values live off-heap in an arena this object owns (an SDXL U-Net is 10 GB in fp32).
 */
public final class RandomWeights implements Weights {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private final Arena arena = Arena.ofShared();
    private final long seed;
    private final AtomicLong bytes = new AtomicLong();

    public RandomWeights(long seed) {
        this.seed = seed;
    }

    @Override
    public Tensor get(String name, int... shape) {
        long n = Tensor.numel(shape);
        MemorySegment seg = arena.allocate(n * Float.BYTES, 64);
        bytes.addAndGet(n * Float.BYTES);
        boolean isNorm = name.contains("norm") && shape.length == 1;
        boolean isBias = name.endsWith(".bias");
        if (isNorm) {
            float v = isBias ? 0f : 1f;
            seg.fill((byte) 0);
            if (v != 0) for (long i = 0; i < n; i++) seg.setAtIndex(F, i, v);
        } else {
            long fanIn = shape.length >= 2 ? n / shape[0] : 1;
            float bound = isBias || shape.length < 2 ? 0.02f : (float) (1 / Math.sqrt(fanIn));
            long nameSeed = seed * 0x9E3779B97F4A7C15L ^ name.hashCode();
            // Chunks with their own seeds: parallel and still the same values on every run.
            int chunk = 1 << 20;
            int chunks = (int) ((n + chunk - 1) / chunk);
            IntStream.range(0, chunks).parallel().forEach(c -> {
                SplittableRandom rnd = new SplittableRandom(nameSeed + c);
                long end = Math.min(n, (long) (c + 1) * chunk);
                for (long i = (long) c * chunk; i < end; i++) seg.setAtIndex(F, i, (float) ((rnd.nextDouble() * 2 - 1) * bound));
            });
        }
        return new Tensor(seg, DType.F32, Layout.PLAIN, Device.CPU, shape);
    }

    /** Bytes handed out so far. */
    public long bytes() {
        return bytes.get();
    }

    @Override
    public String source() {
        return "random weights (seed " + seed + ")";
    }

    @Override
    public void close() {
        arena.close();
    }
}
