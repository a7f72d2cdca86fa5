package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.nn.Linear;

/** diffusers' FeedForward with GEGLU (the SD default): net.0.proj (dim → 2·4·dim), GEGLU, net.2 (4·dim → dim). */
public final class FeedForward {
    private final Backend b;
    private final Linear proj, out;

    public FeedForward(Params p, int dim) {
        this.b = p.backend();
        int inner = 4 * dim;
        this.proj = new Linear(p.child("net.0.proj"), dim, 2 * inner, true);
        this.out = new Linear(p.child("net.2"), inner, dim, true);
    }

    public Tensor forward(Tensor x) {
        return out.forward(b.geglu(proj.forward(x)));
    }
}
