package dev.sdj.model;

import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Conv2d;
import dev.sdj.model.nn.GroupNorm;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' VAE Encoder (double_z): conv_in, DownEncoderBlock2Ds (halving the size at each but
 * the last), UNetMidBlock2D, conv_norm_out + SiLU, conv_out to 2 · latent_channels (the mean and
 * log-variance of the posterior, before quant_conv).
 */
public final class Encoder {
    /** The Encoder hard-codes eps 1e-6 for its resnets, attention and conv_norm_out. */
    static final float EPS = 1e-6f;
    private final Conv2d convIn, convOut;
    private final List<DownEncoderBlock2D> downBlocks = new ArrayList<>();
    private final UNetMidBlock2D midBlock;
    private final GroupNorm convNormOut;

    public Encoder(Params p, AutoencoderKLConfig c) {
        int[] ch = c.blockOutChannels();
        int n = ch.length, groups = c.normNumGroups();
        convIn = new Conv2d(p.child("conv_in"), c.inChannels(), ch[0], 3);
        int out = ch[0];
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch[i];
            downBlocks.add(new DownEncoderBlock2D(p.child("down_blocks." + i), c.layersPerBlock(), in, out, groups, EPS, i < n - 1));
        }
        midBlock = new UNetMidBlock2D(p.child("mid_block"), ch[n - 1], groups, EPS, ch[n - 1]);
        convNormOut = new GroupNorm(p.child("conv_norm_out"), groups, ch[n - 1], EPS);
        convOut = new Conv2d(p.child("conv_out"), ch[n - 1], 2 * c.latentChannels(), 3);
    }

    /** x NHWC (B, H, W, in_channels) → (B, ⌊H/f⌋, ⌊W/f⌋, 2 · latent_channels), f = 2^(blocks − 1). */
    public Tensor forward(Tensor x) {
        x = convIn.forward(x);
        for (DownEncoderBlock2D block : downBlocks) x = block.forward(x);
        x = midBlock.forward(x);
        return convOut.forward(convNormOut.forwardSilu(x));
    }
}
