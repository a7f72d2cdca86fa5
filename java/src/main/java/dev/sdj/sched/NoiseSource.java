package dev.sdj.sched;

/**
 * Standard normal noise, drawn in order from one stream: the initial latents first, then what the
 * ancestral and SDE samplers draw inside their steps (as diffusers passes one generator to both).
 * Seeded generators implement it; tests inject recorded noise through it.
 */
public interface NoiseSource {
    /** numel standard normal values for a tensor of this shape (NCHW, as torch draws them). */
    float[] randn(int... shape);
}
