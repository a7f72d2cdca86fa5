package dev.sdj.model;

import dev.sdj.core.Tensor;

/**
 * SDXL's added conditions (addition_embed_type "text_time"): the pooled text embeddings
 * (B, pooled) and the size/crop ids per sample: SDXL base (B, 6) = original height, width, crop
 * top, left, target height, width; the refiner (B, 5) = original height, width, crop top, left,
 * aesthetic score.
 */
public record AddedConditions(Tensor textEmbeds, Tensor timeIds) {}
