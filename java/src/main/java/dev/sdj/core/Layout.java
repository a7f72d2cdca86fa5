package dev.sdj.core;

/**
 * How a tensor's dimensions are to be read. Image activations are NHWC on every backend (the
 * layout cuDNN's tensor-core convolutions want; a transformer's (B, H*W, C) is then a view).
 * NCHW appears only at the edges: diffusers' goldens and checkpoints.
 */
public enum Layout {
    /** Row-major with no image meaning: vectors, matrices, token sequences, linear weights. */
    PLAIN,
    /** Image activations: (batch, height, width, channels), channels fastest. */
    NHWC,
    /** Image activations as PyTorch stores them: (batch, channels, height, width). */
    NCHW,
    /** Convolution weights as cuDNN's NHWC filter format wants them: (out, kh, kw, in). */
    OHWI,
    /** Convolution weights as PyTorch stores them: (out, in, kh, kw). */
    OIHW
}
