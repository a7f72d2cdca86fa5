package dev.sdj.pipeline;

/**
 * Everything one denoising step computed, for comparing a run with diffusers' stage by stage
 * (the golden e2e cases record the same). NCHW arrays; uncond is null without CFG.
 */
@FunctionalInterface
public interface StepTrace {
    void onStep(int step, float timestep, float[] modelInput, float[] noisePredUncond, float[] noisePredText,
                float[] guided, float[] latents);
}
