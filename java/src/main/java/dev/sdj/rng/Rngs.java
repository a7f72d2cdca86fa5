package dev.sdj.rng;

import dev.sdj.sched.NoiseSource;
import java.util.List;

/** The seeded noise sources sdj has, by the names users pick them with. */
public final class Rngs {
    private Rngs() {}

    /** Every name {@link #byName} accepts. */
    public static final List<String> NAMES = List.of("torch-cpu", "torch-cpu-scalar", "philox");

    /**
     * A fresh generator:
     * <ul>
     *   <li>{@code torch-cpu}: torch's CPU generator with the AVX2 kernel, as diffusers and ComfyUI on x86-64;
     *   <li>{@code torch-cpu-scalar}: the same with torch's scalar kernel (CPUs or builds without AVX2);
     *   <li>{@code philox}: the A1111 webui's "NV" source (modules/rng_philox.py).
     * </ul>
     */
    public static NoiseSource byName(String name, long seed) {
        return switch (name) {
            case "torch-cpu" -> new TorchCpuGenerator(seed, TorchCpuGenerator.Kernel.AVX2);
            case "torch-cpu-scalar" -> new TorchCpuGenerator(seed, TorchCpuGenerator.Kernel.SCALAR);
            case "philox" -> new PhiloxGenerator(seed);
            case null -> throw new IllegalArgumentException("no random number source named; sdj has: " + String.join(", ", NAMES));
            default -> throw new IllegalArgumentException(
                    "unknown random number source '" + name + "'; sdj has: " + String.join(", ", NAMES));
        };
    }

    /** The element count of {@code shape}, as one Java array can hold it. */
    static int numel(int... shape) {
        long numel = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + java.util.Arrays.toString(shape));
            numel *= d;
        }
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many elements for one array: " + numel);
        }
        return (int) numel;
    }
}
