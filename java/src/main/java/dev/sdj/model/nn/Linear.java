package dev.sdj.model.nn;

import dev.sdj.core.Tensor;
import dev.sdj.model.Params;

/** torch.nn.Linear over the last dim. */
public final class Linear {
    private final Params p;
    private final Tensor weight, bias;
    public final int in, out;

    public Linear(Params p, int in, int out, boolean bias) {
        this.p = p;
        this.in = in;
        this.out = out;
        this.weight = p.tensor("weight", out, in);
        this.bias = bias ? p.tensor("bias", out) : null;
    }

    public Tensor forward(Tensor x) {
        return p.backend().linear(x, weight, bias);
    }
}
