package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Conv2d;

/**
 * diffusers' Upsample2D with use_conv: nearest 2× (or, when the U-Net's latent is not a multiple
 * of its overall factor, nearest to the skip connection's size), then a 3×3 conv.
 */
public final class Upsample2D {
    private final Backend b;
    private final Conv2d conv;

    public Upsample2D(Params p, int channels) {
        this.b = p.backend();
        this.conv = new Conv2d(p.child("conv"), channels, channels, 3);
    }

    /** outH/outW: the target size, or ≤ 0 for 2×. */
    public Tensor forward(Tensor x, int outH, int outW) {
        Tensor up = outH > 0 ? b.upsampleNearest(x, outH, outW) : b.upsampleNearest2x(x);
        return conv.forward(up);
    }
}
