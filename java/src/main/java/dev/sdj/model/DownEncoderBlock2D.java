package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' DownEncoderBlock2D: resnets without a time embedding, then an optional Downsample2D
 * with padding 0 (pad bottom/right by one, stride-2 conv). It makes no skip connections.
 */
public final class DownEncoderBlock2D {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Downsample2D downsampler;

    public DownEncoderBlock2D(Params p, int layers, int in, int out, int groups, float eps, boolean addDownsample) {
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, 0, groups, eps));
        }
        // The Encoder passes downsample_padding=0: diffusers then pads asymmetrically itself.
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers.0"), out, 0) : null;
    }

    public Tensor forward(Tensor x) {
        for (ResnetBlock2D resnet : resnets) x = resnet.forward(x, null);
        return downsampler != null ? downsampler.forward(x) : x;
    }
}
