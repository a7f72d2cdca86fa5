package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
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

    /** queryDim: channels of the hidden states; contextDim: of what keys and values come from. */
    public Attention(Params p, int queryDim, int contextDim, int heads, int headDim, boolean qkvBias) {
        this.b = p.backend();
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
}
