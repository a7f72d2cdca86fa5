package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.List;

/** A U-Net encoder level: returns its output and appends every skip connection it makes. */
public interface UNetDownBlock {
    Tensor forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips);

    /** How many skip connections it appends (resnets, plus one for the downsampler). */
    int skipCount();
}
