package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/** diffusers' DownBlock2D: resnets, then an optional Downsample2D; every output is a skip. */
public final class DownBlock2D implements UNetDownBlock {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Downsample2D downsampler;

    public DownBlock2D(Params p, int layers, int in, int out, int temb, int groups, float eps, boolean addDownsample,
                       int downsamplePadding) {
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, temb, groups, eps));
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers.0"), out, downsamplePadding) : null;
    }

    @Override
    public Tensor forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips) {
        for (ResnetBlock2D resnet : resnets) {
            x = resnet.forward(x, temb);
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
