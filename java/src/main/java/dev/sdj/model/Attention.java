package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.GroupNorm;
import dev.sdj.model.nn.Linear;

/**
 * diffusers' Attention as the U-Net's transformer blocks use it: to_q from the hidden states,
 * to_k/to_v from the context (the hidden states themselves for self-attention, the text
 * embeddings for cross-attention), scaled dot-product over {@code heads} heads, to_out.0.
 * upcast_attention only matters in fp16: the CPU backend computes in fp32 throughout.
 */
public final class Attention {
    private final Backend b;
    private final Linear toQ, toK, toV, toOut;
    private final int heads;
    /** The VAE form's group_norm before q/k/v (see {@link #spatial}); null in the transformer form. */
    private final GroupNorm groupNorm;

    /** queryDim: channels of the hidden states; contextDim: of what keys and values come from. */
    public Attention(Params p, int queryDim, int contextDim, int heads, int headDim, boolean qkvBias) {
        this(p, queryDim, contextDim, heads, headDim, qkvBias, null);
    }

    private Attention(Params p, int queryDim, int contextDim, int heads, int headDim, boolean qkvBias, GroupNorm groupNorm) {
        this.b = p.backend();
        this.groupNorm = groupNorm;
        this.heads = heads;
        int inner = heads * headDim;
        this.toQ = new Linear(p.child("to_q"), queryDim, inner, qkvBias);
        this.toK = new Linear(p.child("to_k"), contextDim, inner, qkvBias);
        this.toV = new Linear(p.child("to_v"), contextDim, inner, qkvBias);
        this.toOut = new Linear(p.child("to_out.0"), inner, queryDim, true);
    }

    /** x (B, L, queryDim); context (B, Lk, contextDim), or null for self-attention. */
    public Tensor forward(Tensor x, Tensor context) {
        Tensor ctx = context == null ? x : context;
        Tensor o = b.attention(toQ.forward(x), toK.forward(ctx), toV.forward(ctx), heads, false);
        return toOut.forward(o);
    }

    // ---- The VAE's form: diffusers' Attention with norm_num_groups, residual_connection and bias ----

    /**
     * diffusers' Attention as the VAE's UNetMidBlock2D builds it: group_norm (eps {@code eps}),
     * to_q/to_k/to_v/to_out.0 all with bias, channels / headDim heads (SD's VAE passes headDim =
     * channels: one head), the input added back, rescale_output_factor 1.
     */
    public static Attention spatial(Params p, int channels, int headDim, int groups, float eps) {
        if (headDim <= 0 || channels % headDim != 0) {
            throw new IllegalArgumentException(p.name("") + ": attention_head_dim " + headDim + " does not divide " + channels + " channels");
        }
        GroupNorm norm = new GroupNorm(p.child("group_norm"), groups, channels, eps);
        return new Attention(p, channels, channels, channels / headDim, headDim, true, norm);
    }

    /**
     * Self-attention over the H·W positions of NHWC x (B, H, W, C), plus x. NHWC memory already is
     * diffusers' (B, H·W, C) sequence, so the reshapes are views.
     */
    public Tensor forwardImage(Tensor x) {
        if (groupNorm == null) throw new IllegalStateException("forwardImage needs the VAE form of Attention (Attention.spatial)");
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        Tensor seq = groupNorm.forward(x).reshape(Layout.PLAIN, n, h * w, c);
        Tensor y = forward(seq, null).reshape(Layout.NHWC, n, h, w, c);
        return b.add(y, x);
    }
}
