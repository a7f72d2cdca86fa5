package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.LayerNorm;

/**
 * diffusers' BasicTransformerBlock (norm_type "layer_norm"): pre-norm self-attention, pre-norm
 * cross-attention on the text embeddings, pre-norm GEGLU feed-forward, each added back.
 */
public final class BasicTransformerBlock {
    private static final float LAYER_NORM_EPS = 1e-5f;
    private final Backend b;
    private final LayerNorm norm1, norm2, norm3;
    private final Attention attn1, attn2;
    private final FeedForward ff;

    public BasicTransformerBlock(Params p, int dim, int heads, int headDim, int crossAttentionDim) {
        this.b = p.backend();
        this.norm1 = new LayerNorm(p.child("norm1"), dim, LAYER_NORM_EPS);
        this.attn1 = new Attention(p.child("attn1"), dim, dim, heads, headDim, false);
        this.norm2 = new LayerNorm(p.child("norm2"), dim, LAYER_NORM_EPS);
        this.attn2 = new Attention(p.child("attn2"), dim, crossAttentionDim, heads, headDim, false);
        this.norm3 = new LayerNorm(p.child("norm3"), dim, LAYER_NORM_EPS);
        this.ff = new FeedForward(p.child("ff"), dim);
    }

    /** x (B, H·W, dim); context (B, L, crossAttentionDim). */
    public Tensor forward(Tensor x, Tensor context) {
        x = b.add(x, attn1.forward(norm1.forward(x), null));
        x = b.add(x, attn2.forward(norm2.forward(x), context));
        return b.add(x, ff.forward(norm3.forward(x)));
    }
}
