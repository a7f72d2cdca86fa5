package dev.sdj.model.clip;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.Params;
import dev.sdj.model.nn.LayerNorm;

/**
 * transformers' CLIPEncoderLayer, pre-norm: x + self_attn(layer_norm1(x)), then that plus
 * mlp(layer_norm2(·)).
 */
public final class CLIPEncoderLayer {
    private final Backend b;
    private final LayerNorm layerNorm1, layerNorm2;
    private final CLIPAttention selfAttn;
    private final CLIPMLP mlp;

    public CLIPEncoderLayer(Params p, CLIPTextConfig c) {
        this.b = p.backend();
        this.selfAttn = new CLIPAttention(p.child("self_attn"), c.hiddenSize(), c.numAttentionHeads());
        this.layerNorm1 = new LayerNorm(p.child("layer_norm1"), c.hiddenSize(), c.layerNormEps());
        this.mlp = new CLIPMLP(p.child("mlp"), c.hiddenSize(), c.intermediateSize(), c.hiddenAct());
        this.layerNorm2 = new LayerNorm(p.child("layer_norm2"), c.hiddenSize(), c.layerNormEps());
    }

    /** x (B, L, hidden) → (B, L, hidden). */
    public Tensor forward(Tensor x) {
        x = b.add(x, selfAttn.forward(layerNorm1.forward(x)));
        return b.add(x, mlp.forward(layerNorm2.forward(x)));
    }
}
