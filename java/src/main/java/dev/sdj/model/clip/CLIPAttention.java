package dev.sdj.model.clip;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.Params;
import dev.sdj.model.nn.Linear;

/**
 * transformers' CLIPAttention as the text encoder uses it: q_proj, k_proj, v_proj (with bias)
 * over {@code heads} heads, scale head_dim^-0.5, the causal mask (position i attends to 0 … i),
 * out_proj. transformers scales q before the product; the backend scales the scores: the same up
 * to rounding.
 */
public final class CLIPAttention {
    private final Backend b;
    private final Linear qProj, kProj, vProj, outProj;
    private final int heads;

    public CLIPAttention(Params p, int hidden, int heads) {
        this.b = p.backend();
        this.heads = heads;
        this.qProj = new Linear(p.child("q_proj"), hidden, hidden, true);
        this.kProj = new Linear(p.child("k_proj"), hidden, hidden, true);
        this.vProj = new Linear(p.child("v_proj"), hidden, hidden, true);
        this.outProj = new Linear(p.child("out_proj"), hidden, hidden, true);
    }

    /** x (B, L, hidden) → (B, L, hidden), causal self-attention. */
    public Tensor forward(Tensor x) {
        return outProj.forward(b.attention(qProj.forward(x), kProj.forward(x), vProj.forward(x), heads, true));
    }
}
