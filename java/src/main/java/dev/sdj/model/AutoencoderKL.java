package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.model.nn.Conv2d;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * diffusers' AutoencoderKL, Stable Diffusion's VAE: {@link #encode} maps an image to the
 * posterior over latents (encoder, then quant_conv), {@link #decode} maps a latent back to an
 * image (post_quant_conv, then decoder). Images are in [−1, 1]. Latents are as the VAE makes
 * them: pipelines multiply by {@link #scalingFactor} after encoding and divide before decoding.
 * Built from its config and weights named as in diffusers' state_dict; activations are NHWC.
 */
public final class AutoencoderKL implements AutoCloseable {
    private final AutoencoderKLConfig config;
    private final Backend b;
    private final Weights weights;
    private final Encoder encoder;
    private final Decoder decoder;
    private final Conv2d quantConv, postQuantConv;

    public AutoencoderKL(AutoencoderKLConfig c, Weights weights, Backend backend) {
        this.config = c;
        this.b = backend;
        this.weights = weights;
        Params p = Params.root(backend, weights);
        int latent = c.latentChannels();
        encoder = new Encoder(p.child("encoder"), c);
        decoder = new Decoder(p.child("decoder"), c);
        quantConv = new Conv2d(p.child("quant_conv"), 2 * latent, 2 * latent, 1);
        postQuantConv = new Conv2d(p.child("post_quant_conv"), latent, latent, 1);
    }

    /**
     * A diffusers model folder (config.json and diffusion_pytorch_model.safetensors), or else
     * what {@link Checkpoint#open} reads: a single-file checkpoint (family detected, built-in
     * config) or a pipeline folder (model_index.json, its vae/). Every tensor of the VAE must be
     * used: a leftover key means the config does not describe it.
     */
    public static AutoencoderKL load(Path path, Backend backend) throws IOException {
        if (!Files.isRegularFile(path.resolve("config.json"))) {
            try (Checkpoint checkpoint = Checkpoint.open(path)) {
                return checkpoint.loadVae(backend);
            }
        }
        AutoencoderKLConfig config = AutoencoderKLConfig.read(path.resolve("config.json"));
        Path file = path.resolve("diffusion_pytorch_model.safetensors");
        if (!Files.exists(file)) throw new FileNotFoundException(file + ": no VAE weights (diffusers folders name them so)");
        SafeTensorsWeights w = SafeTensorsWeights.open(file);
        try {
            AutoencoderKL model = new AutoencoderKL(config, w, backend);
            List<String> unused = w.unused();
            if (!unused.isEmpty()) {
                throw new WeightsException(w.source(), unused.get(0), "is not a parameter of the VAE that "
                        + path.resolve("config.json") + " describes (" + unused.size() + " such keys)");
            }
            return model;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** The architecture of {@code config} with deterministic random weights (benchmarks, shape checks). */
    public static AutoencoderKL random(AutoencoderKLConfig config, Backend backend, long seed) {
        RandomWeights w = new RandomWeights(seed);
        try {
            return new AutoencoderKL(config, w, backend);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    public AutoencoderKLConfig config() {
        return config;
    }

    /** The latent scale SD's pipelines apply (0.18215 for SD1/SD2, 0.13025 for SDXL). */
    public float scalingFactor() {
        return config.scalingFactor();
    }

    /** image NHWC (B, H, W, in_channels) in [−1, 1] → the posterior over (B, ⌊H/f⌋, ⌊W/f⌋, latent_channels) latents, f = 8 in SD. */
    public DiagonalGaussianDistribution encode(Tensor image) {
        requireNhwc("encode", "image", image, config.inChannels());
        Tensor moments = quantConv.forward(encoder.forward(image));
        return DiagonalGaussianDistribution.of(b, moments);
    }

    /** latent NHWC (B, h, w, latent_channels), not scaled → image NHWC (B, h·f, w·f, out_channels), about [−1, 1]. */
    public Tensor decode(Tensor latent) {
        requireNhwc("decode", "latent", latent, config.latentChannels());
        return decoder.forward(postQuantConv.forward(latent));
    }

    private static void requireNhwc(String op, String what, Tensor x, int channels) {
        if (x.rank() != 4 || x.layout() != Layout.NHWC || x.dim(3) != channels || x.dim(0) < 1 || x.dim(1) < 1 || x.dim(2) < 1) {
            throw new IllegalArgumentException("vae " + op + ": " + what + " must be NHWC (B, H, W, " + channels + "), is "
                    + x.layout() + " " + Arrays.toString(x.shape()));
        }
    }

    /** Releases the weights (the mapped file, or the random weights' memory). */
    @Override
    public void close() {
        weights.close();
    }
}
