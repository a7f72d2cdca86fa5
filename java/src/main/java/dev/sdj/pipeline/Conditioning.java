package dev.sdj.pipeline;

import dev.sdj.core.Tensor;
import dev.sdj.model.AddedConditions;

/**
 * What the U-Net is conditioned on for one image: the prompt's text embeddings (B, L, D), the
 * negative prompt's (the "unconditional" half of classifier-free guidance), and for SDXL the
 * added conditions of each. Backend tensors.
 */
public record Conditioning(Tensor cond, Tensor uncond, AddedConditions addedCond, AddedConditions addedUncond) {

    public static Conditioning of(Tensor cond, Tensor uncond) {
        return new Conditioning(cond, uncond, null, null);
    }
}
