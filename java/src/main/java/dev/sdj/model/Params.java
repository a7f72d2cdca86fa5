package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

/**
 * One module's view of the weights while a model is built: the backend, and the diffusers name
 * prefix of the module ({@code "down_blocks.1.attentions.0."}). {@code child("resnets.0")} walks
 * down the module tree the way the checkpoint names do.
 *
 * <p>With no backend (null), parameters are not uploaded: the weights' tensors are handed back as
 * they are. {@link ParameterShapes} builds a model that way to list the parameters a config needs.
 */
public record Params(Backend backend, Weights weights, String prefix) {

    public static Params root(Backend backend, Weights weights) {
        return new Params(backend, weights, "");
    }

    public Params child(String name) {
        return new Params(backend, weights, prefix + name + ".");
    }

    public String name(String leaf) {
        return prefix + leaf;
    }

    /** A parameter uploaded to the backend, checked against the shape the config implies. */
    public Tensor tensor(String leaf, int... shape) {
        Tensor t = weights.get(prefix + leaf, shape);
        return backend == null ? t : backend.upload(t);
    }

    /** A conv weight (PyTorch OIHW) in the backend's conv layout. */
    public Tensor convWeight(String leaf, int out, int in, int kh, int kw) {
        Tensor t = tensor(leaf, out, in, kh, kw);
        return backend == null ? t : backend.convWeight(t.withLayout(Layout.OIHW));
    }
}
