package dev.sdj.backend.cuda;

import dev.sdj.backend.Backend;
import dev.sdj.core.DType;
import dev.sdj.core.Tensor;

/** Placeholder while the CUDA backend is written (replaced in this issue). */
public final class CudaBackend implements Backend {
    private final DType dtype;

    public CudaBackend(DType dtype) {
        this.dtype = dtype;
    }

    public DType dtype() {
        return dtype;
    }

    /** One line for benchmark headers: GPU, SMs, memory, dtype, library versions. */
    public String describe() {
        return "cuda " + dtype;
    }

    @Override public String name() { return "cuda"; }
    private static UnsupportedOperationException todo() { return new UnsupportedOperationException("CUDA backend: not yet"); }
    @Override public Tensor upload(Tensor host) { throw todo(); }
    @Override public Tensor download(Tensor t) { throw todo(); }
    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor b, int sh, int sw, int ph, int pw) { throw todo(); }
    @Override public Tensor linear(Tensor x, Tensor w, Tensor b) { throw todo(); }
    @Override public Tensor matmul(Tensor a, Tensor b, boolean ta, boolean tb, float alpha) { throw todo(); }
    @Override public Tensor groupNorm(Tensor x, int g, Tensor gamma, Tensor beta, float eps, boolean silu) { throw todo(); }
    @Override public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) { throw todo(); }
    @Override public Tensor softmax(Tensor x) { throw todo(); }
    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) { throw todo(); }
    @Override public Tensor silu(Tensor x) { throw todo(); }
    @Override public Tensor gelu(Tensor x, boolean tanh) { throw todo(); }
    @Override public Tensor quickGelu(Tensor x) { throw todo(); }
    @Override public Tensor geglu(Tensor x) { throw todo(); }
    @Override public Tensor upsampleNearest(Tensor x, int oh, int ow) { throw todo(); }
    @Override public Tensor pad2d(Tensor x, int t, int b, int l, int r) { throw todo(); }
    @Override public Tensor concatChannels(Tensor a, Tensor b) { throw todo(); }
    @Override public Tensor add(Tensor a, Tensor b) { throw todo(); }
    @Override public Tensor mul(Tensor a, Tensor b) { throw todo(); }
    @Override public Tensor scale(Tensor x, float s) { throw todo(); }
    @Override public Tensor timestepEmbedding(float[] t, int dim, boolean flip, float shift, float scale, float maxPeriod) { throw todo(); }
    @Override public Tensor cast(Tensor x, DType d) { throw todo(); }
    @Override public Tensor nchwToNhwc(Tensor x) { throw todo(); }
    @Override public Tensor nhwcToNchw(Tensor x) { throw todo(); }
    @Override public Tensor convWeight(Tensor oihw) { throw todo(); }
    @Override public void close() {}
}
