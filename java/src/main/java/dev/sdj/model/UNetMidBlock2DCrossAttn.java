package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/** diffusers' UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) pairs. */
public final class UNetMidBlock2DCrossAttn {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();

    public UNetMidBlock2DCrossAttn(Params p, int channels, int temb, int groups, float eps, int heads, int transformerLayers,
                                   int crossAttentionDim, boolean useLinearProjection) {
        int layers = 1; // diffusers' default num_layers for the mid block
        resnets.add(new ResnetBlock2D(p.child("resnets.0"), channels, channels, temb, groups, eps));
        for (int i = 0; i < layers; i++) {
            attentions.add(new Transformer2DModel(p.child("attentions." + i), channels, heads, channels / heads, transformerLayers,
                    crossAttentionDim, groups, useLinearProjection));
            resnets.add(new ResnetBlock2D(p.child("resnets." + (i + 1)), channels, channels, temb, groups, eps));
        }
    }

    public Tensor forward(Tensor x, Tensor temb, Tensor context) {
        x = resnets.get(0).forward(x, temb);
        for (int i = 0; i < attentions.size(); i++) {
            x = resnets.get(i + 1).forward(attentions.get(i).forward(x, context), temb);
        }
        return x;
    }
}
