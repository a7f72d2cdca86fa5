package dev.sdj.model;

import dev.sdj.core.Tensor;

/**
 * Where a model's parameters come from, by their diffusers {@code state_dict} name: a safetensors
 * file ({@link SafeTensorsWeights}) or random values for benchmarks ({@link RandomWeights}).
 */
public interface Weights extends AutoCloseable {

    /**
     * The parameter {@code name} as a host tensor in PyTorch's layout with exactly {@code shape};
     * a missing name or another shape throws {@link WeightsException} naming the source, the
     * tensor and both shapes.
     */
    Tensor get(String name, int... shape);

    /** Where the weights come from, for messages (a file path, "random weights (seed 42)"). */
    String source();

    @Override
    void close();
}
