package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Conv2d;
import dev.sdj.model.nn.GroupNorm;
import dev.sdj.model.nn.Linear;

/**
 * diffusers' ResnetBlock2D (time_embedding_norm "default", output_scale_factor 1):
 * norm1-SiLU-conv1, + time_emb_proj(SiLU(temb)), norm2-SiLU-conv2, + shortcut. The VAE's
 * blocks have no time embedding (temb channels 0).
 */
public final class ResnetBlock2D {
    private final Backend b;
    private final GroupNorm norm1, norm2;
    private final Conv2d conv1, conv2, convShortcut;
    private final Linear timeEmbProj;

    public ResnetBlock2D(Params p, int in, int out, int tembChannels, int groups, float eps) {
        this.b = p.backend();
        this.norm1 = new GroupNorm(p.child("norm1"), groups, in, eps);
        this.conv1 = new Conv2d(p.child("conv1"), in, out, 3);
        this.timeEmbProj = tembChannels > 0 ? new Linear(p.child("time_emb_proj"), tembChannels, out, true) : null;
        this.norm2 = new GroupNorm(p.child("norm2"), groups, out, eps);
        this.conv2 = new Conv2d(p.child("conv2"), out, out, 3);
        this.convShortcut = in != out ? new Conv2d(p.child("conv_shortcut"), in, out, 1) : null;
    }

    /** x NHWC (N, H, W, in); temb (N, temb) or null without a time embedding. */
    public Tensor forward(Tensor x, Tensor temb) {
        Tensor h = conv1.forward(norm1.forwardSilu(x));
        if (timeEmbProj != null) {
            Tensor t = timeEmbProj.forward(b.silu(temb));
            h = b.add(h, t.reshape(t.dim(0), 1, 1, t.dim(1)));
        }
        h = conv2.forward(norm2.forwardSilu(h));
        Tensor shortcut = convShortcut != null ? convShortcut.forward(x) : x;
        return b.add(shortcut, h);
    }
}
