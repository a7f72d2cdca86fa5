package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Conv2d;
import dev.sdj.model.nn.GroupNorm;
import dev.sdj.model.nn.Linear;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' Transformer2DModel on continuous (image) input: GroupNorm, proj_in (1×1 conv, or
 * Linear when use_linear_projection), the BasicTransformerBlocks on (B, H·W, C), proj_out, plus
 * the input. In NHWC the (B, H·W, C) sequence is the same memory as the image, so both
 * projections are the same GEMM and the reshapes are views.
 */
public final class Transformer2DModel {
    private static final float NORM_EPS = 1e-6f;
    private final Backend b;
    private final GroupNorm norm;
    private final Conv2d projInConv, projOutConv;
    private final Linear projInLinear, projOutLinear;
    private final List<BasicTransformerBlock> blocks = new ArrayList<>();

    public Transformer2DModel(Params p, int channels, int heads, int headDim, int layers, int crossAttentionDim,
                              int groups, boolean useLinearProjection) {
        this.b = p.backend();
        int inner = heads * headDim;
        this.norm = new GroupNorm(p.child("norm"), groups, channels, NORM_EPS);
        if (useLinearProjection) {
            this.projInLinear = new Linear(p.child("proj_in"), channels, inner, true);
            this.projOutLinear = new Linear(p.child("proj_out"), inner, channels, true);
            this.projInConv = this.projOutConv = null;
        } else {
            this.projInConv = new Conv2d(p.child("proj_in"), channels, inner, 1);
            this.projOutConv = new Conv2d(p.child("proj_out"), inner, channels, 1);
            this.projInLinear = this.projOutLinear = null;
        }
        for (int i = 0; i < layers; i++) {
            blocks.add(new BasicTransformerBlock(p.child("transformer_blocks." + i), inner, heads, headDim, crossAttentionDim));
        }
    }

    /** x NHWC (B, H, W, C); context (B, L, crossAttentionDim). */
    public Tensor forward(Tensor x, Tensor context) {
        int n = x.dim(0), h = x.dim(1), w = x.dim(2);
        Tensor y = norm.forward(x);
        y = projInConv != null ? projInConv.forward(y) : projInLinear.forward(y);
        Tensor seq = y.reshape(Layout.PLAIN, n, h * w, y.dim(3));
        for (BasicTransformerBlock block : blocks) seq = block.forward(seq, context);
        y = seq.reshape(Layout.NHWC, n, h, w, seq.dim(2));
        y = projOutConv != null ? projOutConv.forward(y) : projOutLinear.forward(y);
        return b.add(y, x);
    }
}
