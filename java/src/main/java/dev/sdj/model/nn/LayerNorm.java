package dev.sdj.model.nn;

import dev.sdj.core.Tensor;
import dev.sdj.model.Params;

/** torch.nn.LayerNorm over the last dim, with affine parameters. */
public final class LayerNorm {
    private final Params p;
    private final Tensor weight, bias;
    private final float eps;

    public LayerNorm(Params p, int channels, float eps) {
        this.p = p;
        this.eps = eps;
        this.weight = p.tensor("weight", channels);
        this.bias = p.tensor("bias", channels);
    }

    public Tensor forward(Tensor x) {
        return p.backend().layerNorm(x, weight, bias, eps);
    }
}
