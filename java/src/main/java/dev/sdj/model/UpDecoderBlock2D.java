package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' UpDecoderBlock2D: resnets without a time embedding (no skip connections, unlike the
 * U-Net's UpBlock2D), then an optional Upsample2D (nearest 2×, 3×3 conv).
 */
public final class UpDecoderBlock2D {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Upsample2D upsampler;

    public UpDecoderBlock2D(Params p, int layers, int in, int out, int groups, float eps, boolean addUpsample) {
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, 0, groups, eps));
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out) : null;
    }

    public Tensor forward(Tensor x) {
        for (ResnetBlock2D resnet : resnets) x = resnet.forward(x, null);
        // The decoder never passes an output size: always 2× (-1, -1).
        return upsampler != null ? upsampler.forward(x, -1, -1) : x;
    }
}
