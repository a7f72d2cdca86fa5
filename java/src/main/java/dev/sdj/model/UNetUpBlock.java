package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.List;

/** A U-Net decoder level: each resnet takes the latest skip connection (removed from the end of the list). */
public interface UNetUpBlock {
    /** outH/outW: the upsampler's target size, or ≤ 0 for 2× (see Upsample2D). */
    Tensor forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips, int outH, int outW);

    int resnetCount();
}
