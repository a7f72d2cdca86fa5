package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/** diffusers' CrossAttnUpBlock2D: (resnet on [x, skip], transformer) pairs, then an optional Upsample2D. */
public final class CrossAttnUpBlock2D implements UNetUpBlock {
    private final Backend b;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final Upsample2D upsampler;

    public CrossAttnUpBlock2D(Params p, int layers, int in, int out, int prevOut, int temb, int groups, float eps,
                              boolean addUpsample, int heads, int transformerLayers, int crossAttentionDim,
                              boolean useLinearProjection) {
        this.b = p.backend();
        for (int i = 0; i < layers; i++) {
            int skip = i == layers - 1 ? in : out;
            int resIn = i == 0 ? prevOut : out;
            resnets.add(new ResnetBlock2D(p.child("resnets." + i), resIn + skip, out, temb, groups, eps));
            attentions.add(new Transformer2DModel(p.child("attentions." + i), out, heads, out / heads, transformerLayers,
                    crossAttentionDim, groups, useLinearProjection));
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out) : null;
    }

    @Override
    public Tensor forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips, int outH, int outW) {
        for (int i = 0; i < resnets.size(); i++) {
            x = resnets.get(i).forward(b.concatChannels(x, skips.removeLast()), temb);
            x = attentions.get(i).forward(x, context);
        }
        return upsampler != null ? upsampler.forward(x, outH, outW) : x;
    }

    @Override
    public int resnetCount() {
        return resnets.size();
    }
}
