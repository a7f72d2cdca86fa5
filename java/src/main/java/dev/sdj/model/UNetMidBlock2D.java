package dev.sdj.model;

import dev.sdj.core.Tensor;

/**
 * diffusers' UNetMidBlock2D as the VAE uses it (num_layers 1, no time embedding): resnet,
 * self-attention with its own group norm and residual, resnet. All at one resolution and width.
 */
public final class UNetMidBlock2D {
    private final ResnetBlock2D resnet0, resnet1;
    private final Attention attention;

    /** attentionHeadDim: the Encoder and Decoder pass the channel count, so there is one head. */
    public UNetMidBlock2D(Params p, int channels, int groups, float eps, int attentionHeadDim) {
        this.resnet0 = new ResnetBlock2D(p.child("resnets.0"), channels, channels, 0, groups, eps);
        // attn_groups = resnet_groups and eps = resnet_eps when resnet_time_scale_shift is "default".
        this.attention = Attention.spatial(p.child("attentions.0"), channels, attentionHeadDim, groups, eps);
        this.resnet1 = new ResnetBlock2D(p.child("resnets.1"), channels, channels, 0, groups, eps);
    }

    public Tensor forward(Tensor x) {
        x = resnet0.forward(x, null);
        x = attention.forwardImage(x);
        return resnet1.forward(x, null);
    }
}
