package dev.sdj.model.nn;

import dev.sdj.core.Tensor;
import dev.sdj.model.Params;

/** torch.nn.GroupNorm (affine) on NHWC activations; {@link #forwardSilu} fuses the SiLU that follows it everywhere in SD. */
public final class GroupNorm {
    private final Params p;
    private final Tensor weight, bias;
    private final int groups;
    private final float eps;

    public GroupNorm(Params p, int groups, int channels, float eps) {
        if (channels % groups != 0) {
            throw new IllegalArgumentException(p.name("") + ": " + channels + " channels do not split into " + groups + " groups");
        }
        this.p = p;
        this.groups = groups;
        this.eps = eps;
        this.weight = p.tensor("weight", channels);
        this.bias = p.tensor("bias", channels);
    }

    public Tensor forward(Tensor x) {
        return p.backend().groupNorm(x, groups, weight, bias, eps, false);
    }

    public Tensor forwardSilu(Tensor x) {
        return p.backend().groupNorm(x, groups, weight, bias, eps, true);
    }
}
