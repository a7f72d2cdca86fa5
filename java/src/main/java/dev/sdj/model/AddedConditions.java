package dev.sdj.model;

import dev.sdj.core.Tensor;

/**
 * SDXL's added conditions (addition_embed_type "text_time"): the pooled text embeddings
 * (B, pooled) and the six size/crop ids per sample (B, 6): original height, width, crop top,
 * left, target height, width.
 */
public record AddedConditions(Tensor textEmbeds, Tensor timeIds) {}
