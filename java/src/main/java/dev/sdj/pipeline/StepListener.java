package dev.sdj.pipeline;

/** Told after every denoising step; may look at the latents (a preview) but must not keep or change them. */
@FunctionalInterface
public interface StepListener {
    /** step: 0-based among the steps this run takes; of: how many it takes; timestep: the model's t. */
    void onStep(int step, int of, float timestep, float[] latents);
}
