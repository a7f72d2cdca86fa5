package dev.sdj.backend;

import dev.sdj.core.DType;
import dev.sdj.core.Tensor;

/**
 * The ops a Stable Diffusion U-Net, VAE and CLIP text encoder need. Every op returns a new tensor
 * in this backend's storage; inputs are never modified. Image activations are NHWC; "last dim"
 * ops (linear, norms, softmax, activations) treat a tensor as rows of its last dimension.
 *
 * <p>The CPU backend ({@code cpu.CpuBackend}) is the reference every other backend is tested
 * against. Every backend checks on entry, and throws {@link IllegalArgumentException} naming the op
 * and the shapes, when: shapes do not fit; an input is not in the backend's compute dtype (bring
 * it in with {@link #upload}); an image op gets a layout other than NHWC, or conv2d a weight other
 * than OHWI (see {@link #convWeight}).
 */
public interface Backend extends AutoCloseable {

    String name();

    /** This backend's copy of a host tensor of any dtype, in the backend's compute dtype. */
    Tensor upload(Tensor host);

    /**
     * A region whose temporaries the backend may reclaim when it closes: every tensor this backend makes
     * while the scope is open (uploads included) is invalid after {@link Scope#close()}; download what must
     * survive before closing. Tensors made outside any scope (weights) live until the backend closes.
     * Scopes nest. The CPU backend's memory is garbage-collected and its scope does nothing; the CUDA backend
     * serves a scope's tensors from one device arena, so a sampling step allocates no device memory.
     */
    default Scope scope() {
        return () -> {};
    }

    /** A new tensor of this backend's compute dtype with undefined contents (to be filled by {@link #copy}). */
    Tensor empty(dev.sdj.core.Layout layout, int... shape);

    /** Copies {@code src} into {@code dst} (same shape and dtype; views from {@link Tensor#narrowBatch} allowed). */
    void copy(Tensor src, Tensor dst);

    /**
     * Σ coefficients[j] · terms[j] (all of one shape): how a sampler's update runs on the backend. The default
     * composes {@link #scale} and {@link #add}, left to right.
     */
    default Tensor linearCombination(float[] coefficients, java.util.List<Tensor> terms) {
        if (coefficients.length != terms.size() || terms.isEmpty()) {
            throw new IllegalArgumentException("linearCombination: " + coefficients.length + " coefficients for " + terms.size() + " terms");
        }
        Tensor y = null;
        for (int j = 0; j < terms.size(); j++) {
            if (coefficients[j] == 0f) continue;
            Tensor t = coefficients[j] == 1f ? terms.get(j) : scale(terms.get(j), coefficients[j]);
            y = y == null ? t : add(y, t);
        }
        return y != null ? y : scale(terms.getFirst(), 0f);
    }

    /** See {@link #scope()}. */
    interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** A host fp32 copy of {@code t}. */
    Tensor download(Tensor t);

    /**
     * 2-D convolution, groups = 1. x: NHWC (N, H, W, Cin); weight: OHWI (Cout, kh, kw, Cin); bias:
     * (Cout) or null. Output NHWC (N, Ho, Wo, Cout) with Ho = (H + 2·padH − kh) / strideH + 1.
     */
    Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW);

    default Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
        return conv2d(x, weight, bias, stride, stride, padding, padding);
    }

    /** x (..., in) · weightᵀ + bias, weight (out, in) as in PyTorch's Linear; bias (out) or null. */
    Tensor linear(Tensor x, Tensor weight, Tensor bias);

    /**
     * Batched matmul: alpha · op(a) · op(b), a (B, M, K) or (B, K, M) when transA, b (B, K, N) or
     * (B, N, K) when transB; result (B, M, N).
     */
    Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB, float alpha);

    /**
     * GroupNorm over an NHWC tensor (N, H, W, C) with {@code groups} groups of C/groups channels,
     * statistics over (H, W, channels of the group); gamma, beta (C), required (every GroupNorm
     * in SD is affine). With {@code silu} the
     * result passes through SiLU (diffusers' norm → act pairs).
     */
    Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu);

    /** LayerNorm over the last dim; gamma and beta (C) or null (no affine). */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    /** Softmax over the last dim. */
    Tensor softmax(Tensor x);

    /**
     * Multi-head scaled-dot-product attention. q (B, Lq, heads·D), k (B, Lk, heads·D), v (B, Lk,
     * heads·Dv), heads laid out as in diffusers' {@code head_to_batch_dim} (head h owns channels
     * h·D … h·D+D−1). Scale 1/√D. With {@code causal}, query i sees keys 0 … i (CLIP's mask).
     * Result (B, Lq, heads·Dv).
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal);

    Tensor silu(Tensor x);

    /** GELU: exact (erf) or, with {@code tanhApproximation}, PyTorch's approximate="tanh". */
    Tensor gelu(Tensor x, boolean tanhApproximation);

    /** x · sigmoid(1.702 · x), as in OpenAI's CLIP. */
    Tensor quickGelu(Tensor x);

    /** diffusers' GEGLU after its projection: x (..., 2C) → x[..., :C] · gelu(x[..., C:]). */
    Tensor geglu(Tensor x);

    /**
     * Nearest-neighbour resize of NHWC x to (outH, outW) with PyTorch's "nearest" rule (source
     * index floor(dst · in / out)); diffusers' Upsample2D uses it for 2× and for skip-sized outputs.
     */
    Tensor upsampleNearest(Tensor x, int outH, int outW);

    default Tensor upsampleNearest2x(Tensor x) {
        return upsampleNearest(x, x.dim(1) * 2, x.dim(2) * 2);
    }

    /**
     * Zero padding of NHWC x: {@code top}/{@code bottom} rows and {@code left}/{@code right}
     * columns (diffusers' VAE Downsample2D pads only bottom and right before its stride-2 conv).
     */
    Tensor pad2d(Tensor x, int top, int bottom, int left, int right);

    /** Concatenation along the last dim (channels, for NHWC); all other dims equal. */
    Tensor concatChannels(Tensor a, Tensor b);

    /** a + b with NumPy broadcasting of b to a's shape (b's rank ≤ a's, trailing dims align). */
    Tensor add(Tensor a, Tensor b);

    /** a · b with NumPy broadcasting of b to a's shape. */
    Tensor mul(Tensor a, Tensor b);

    /** x · s. */
    Tensor scale(Tensor x, float s);

    /**
     * diffusers' {@code get_timestep_embedding}: (n, dim) sinusoids of the timesteps with
     * exponent −ln(maxPeriod)·i / (dim/2 − downscaleFreqShift), [sin, cos] or [cos, sin] with
     * {@code flipSinToCos}, zero-padded when dim is odd.
     */
    Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift,
                             float scale, float maxPeriod);

    /** x in dtype {@code dtype}, rounding to nearest even. */
    Tensor cast(Tensor x, DType dtype);

    /** (N, C, H, W) → (N, H, W, C): diffusers' layout to sdj's, at the model's edges. */
    Tensor nchwToNhwc(Tensor x);

    /** (N, H, W, C) → (N, C, H, W). */
    Tensor nhwcToNchw(Tensor x);

    /** A PyTorch conv weight (Cout, Cin, kh, kw) as this backend's OHWI (Cout, kh, kw, Cin). */
    Tensor convWeight(Tensor oihw);

    @Override
    void close();
}
