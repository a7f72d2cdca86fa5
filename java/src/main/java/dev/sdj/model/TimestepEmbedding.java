package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Linear;

/** diffusers' TimestepEmbedding: linear_1, SiLU, linear_2. */
public final class TimestepEmbedding {
    private final Backend b;
    private final Linear linear1, linear2;

    public TimestepEmbedding(Params p, int in, int timeEmbedDim) {
        this.b = p.backend();
        this.linear1 = new Linear(p.child("linear_1"), in, timeEmbedDim, true);
        this.linear2 = new Linear(p.child("linear_2"), timeEmbedDim, timeEmbedDim, true);
    }

    public Tensor forward(Tensor x) {
        return linear2.forward(b.silu(linear1.forward(x)));
    }
}
