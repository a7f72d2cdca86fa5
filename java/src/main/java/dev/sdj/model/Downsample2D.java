package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Conv2d;

/**
 * diffusers' Downsample2D with use_conv: a 3×3 stride-2 conv. With padding 0 (the VAE) diffusers
 * first pads one zero row and column at the bottom and right, so odd and even sizes both halve.
 */
public final class Downsample2D {
    private final Backend b;
    private final Conv2d conv;
    private final int padding;

    public Downsample2D(Params p, int channels, int padding) {
        this.b = p.backend();
        this.padding = padding;
        this.conv = new Conv2d(p.child("conv"), channels, channels, 3, 2, padding, true);
    }

    public Tensor forward(Tensor x) {
        return conv.forward(padding == 0 ? b.pad2d(x, 0, 1, 0, 1) : x);
    }
}
