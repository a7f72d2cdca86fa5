package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/** diffusers' UpBlock2D: resnets on [x, skip] concatenated along channels, then an optional Upsample2D. */
public final class UpBlock2D implements UNetUpBlock {
    private final Backend b;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Upsample2D upsampler;

    /** in: channels of the deepest skip it takes; prevOut: channels of the block below. */
    public UpBlock2D(Params p, int layers, int in, int out, int prevOut, int temb, int groups, float eps, boolean addUpsample) {
        this.b = p.backend();
        for (int i = 0; i < layers; i++) {
            int skip = i == layers - 1 ? in : out;
            int resIn = i == 0 ? prevOut : out;
            resnets.add(new ResnetBlock2D(p.child("resnets." + i), resIn + skip, out, temb, groups, eps));
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out) : null;
    }

    @Override
    public Tensor forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips, int outH, int outW) {
        for (ResnetBlock2D resnet : resnets) {
            x = resnet.forward(b.concatChannels(x, skips.removeLast()), temb);
        }
        return upsampler != null ? upsampler.forward(x, outH, outW) : x;
    }

    @Override
    public int resnetCount() {
        return resnets.size();
    }
}
