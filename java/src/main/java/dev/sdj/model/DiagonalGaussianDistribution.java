package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import java.util.Arrays;

/**
 * diffusers' DiagonalGaussianDistribution, the VAE's posterior q(z | image). All tensors NHWC:
 * moments (B, h, w, 2L) is quant_conv's output; mean and logvar are its first and last L channels,
 * logvar clamped to [−30, 20]; std = exp(0.5 · logvar).
 */
public record DiagonalGaussianDistribution(Tensor moments, Tensor mean, Tensor logvar, Tensor std) {
    static final float LOGVAR_MIN = -30f, LOGVAR_MAX = 20f;

    /**
     * Splits moments into the distribution. The backend has no channel slice or exp, and the
     * posterior is latent-sized (1/64 of the image's pixels), so this runs on a host copy.
     */
    public static DiagonalGaussianDistribution of(Backend b, Tensor moments) {
        if (moments.rank() != 4 || moments.layout() != Layout.NHWC || moments.dim(3) % 2 != 0) {
            throw new IllegalArgumentException("moments must be NHWC (B, h, w, 2·latent_channels), is "
                    + moments.layout() + " " + Arrays.toString(moments.shape()));
        }
        int n = moments.dim(0), h = moments.dim(1), w = moments.dim(2), latent = moments.dim(3) / 2;
        float[] m = b.download(moments).toFloatArray();
        int pixels = n * h * w;
        float[] mean = new float[pixels * latent], logvar = new float[pixels * latent], std = new float[pixels * latent];
        for (int px = 0; px < pixels; px++) {
            for (int c = 0; c < latent; c++) {
                int i = px * latent + c;
                mean[i] = m[px * 2 * latent + c];
                logvar[i] = Math.clamp(m[px * 2 * latent + latent + c], LOGVAR_MIN, LOGVAR_MAX);
                std[i] = (float) Math.exp(0.5f * logvar[i]);
            }
        }
        return new DiagonalGaussianDistribution(moments, upload(b, mean, n, h, w, latent),
                upload(b, logvar, n, h, w, latent), upload(b, std, n, h, w, latent));
    }

    private static Tensor upload(Backend b, float[] values, int n, int h, int w, int c) {
        return b.upload(Tensor.of(values, Layout.NHWC, n, h, w, c));
    }

    /** The most likely latent (diffusers' mode()): the mean. */
    public Tensor mode() {
        return mean;
    }

    /** A latent drawn from the posterior, given standard-normal noise of the mean's shape: mean + std · noise. */
    public Tensor sample(Backend b, Tensor noise) {
        if (!Arrays.equals(noise.shape(), mean.shape())) {
            throw new IllegalArgumentException("noise must have the posterior's shape " + Arrays.toString(mean.shape())
                    + ", is " + Arrays.toString(noise.shape()));
        }
        return b.add(mean, b.mul(std, noise));
    }
}
