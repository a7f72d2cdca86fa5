package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/** diffusers' CrossAttnDownBlock2D: (resnet, transformer) pairs, then an optional Downsample2D. */
public final class CrossAttnDownBlock2D implements UNetDownBlock {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final Downsample2D downsampler;

    public CrossAttnDownBlock2D(Params p, int layers, int in, int out, int temb, int groups, float eps, boolean addDownsample,
                                int downsamplePadding, int heads, int transformerLayers, int crossAttentionDim,
                                boolean useLinearProjection) {
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, temb, groups, eps));
            attentions.add(new Transformer2DModel(p.child("attentions." + i), out, heads, out / heads, transformerLayers,
                    crossAttentionDim, groups, useLinearProjection));
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers.0"), out, downsamplePadding) : null;
    }

    @Override
    public Tensor forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            x = attentions.get(i).forward(resnets.get(i).forward(x, temb), context);
            skips.add(x);
        }
        if (downsampler != null) {
            x = downsampler.forward(x);
            skips.add(x);
        }
        return x;
    }

    @Override
    public int skipCount() {
        return resnets.size() + (downsampler != null ? 1 : 0);
    }
}
