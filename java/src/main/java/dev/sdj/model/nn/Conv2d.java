package dev.sdj.model.nn;

import dev.sdj.core.Tensor;
import dev.sdj.model.Params;

/** torch.nn.Conv2d (groups 1, square kernel, symmetric padding) on NHWC activations. */
public final class Conv2d {
    private final Params p;
    private final Tensor weight, bias;
    private final int stride, padding;
    public final int in, out, kernel;

    public Conv2d(Params p, int in, int out, int kernel, int stride, int padding, boolean bias) {
        this.p = p;
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.weight = p.convWeight("weight", out, in, kernel, kernel);
        this.bias = bias ? p.tensor("bias", out) : null;
    }

    /** kernel×kernel, stride 1, "same" padding, with bias: the U-Net's and VAE's usual conv. */
    public Conv2d(Params p, int in, int out, int kernel) {
        this(p, in, out, kernel, 1, kernel / 2, true);
    }

    public Tensor forward(Tensor x) {
        return p.backend().conv2d(x, weight, bias, stride, padding);
    }
}
