package dev.sdj.model;

import dev.sdj.core.Tensor;

/**
 * What the sampling loop calls each step: the U-Net, or a stand-in in tests. NHWC sample,
 * timesteps one per sample or one for all, text embeddings, SDXL's added conditions or null.
 */
@FunctionalInterface
public interface NoisePredictor {
    Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, AddedConditions added);
}
