package dev.sdj.model;

import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Conv2d;
import dev.sdj.model.nn.GroupNorm;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' VAE Decoder (norm_type "group"): conv_in, UNetMidBlock2D, UpDecoderBlock2Ds with
 * the channels reversed and layers_per_block + 1 resnets each (doubling the size at each but the
 * last), conv_norm_out + SiLU, conv_out to out_channels.
 */
public final class Decoder {
    private final Conv2d convIn, convOut;
    private final UNetMidBlock2D midBlock;
    private final List<UpDecoderBlock2D> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;

    public Decoder(Params p, AutoencoderKLConfig c) {
        int[] ch = c.blockOutChannels();
        int n = ch.length, groups = c.normNumGroups();
        float eps = Encoder.EPS; // the Decoder hard-codes the same 1e-6
        convIn = new Conv2d(p.child("conv_in"), c.latentChannels(), ch[n - 1], 3);
        midBlock = new UNetMidBlock2D(p.child("mid_block"), ch[n - 1], groups, eps, ch[n - 1]);
        int out = ch[n - 1];
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch[n - 1 - i];
            upBlocks.add(new UpDecoderBlock2D(p.child("up_blocks." + i), c.layersPerBlock() + 1, in, out, groups, eps, i < n - 1));
        }
        convNormOut = new GroupNorm(p.child("conv_norm_out"), groups, ch[0], eps);
        convOut = new Conv2d(p.child("conv_out"), ch[0], c.outChannels(), 3);
    }

    /** z NHWC (B, h, w, latent_channels), after post_quant_conv → (B, h·f, w·f, out_channels). */
    public Tensor forward(Tensor z) {
        Tensor x = convIn.forward(z);
        x = midBlock.forward(x);
        for (UpDecoderBlock2D block : upBlocks) x = block.forward(x);
        return convOut.forward(convNormOut.forwardSilu(x));
    }
}
