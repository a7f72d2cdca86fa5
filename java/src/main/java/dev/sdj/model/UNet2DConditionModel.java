package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.model.nn.Conv2d;
import dev.sdj.model.nn.GroupNorm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * diffusers' UNet2DConditionModel: predicts the noise (or v) in a latent, given the timestep and
 * the text embeddings. Built from its config and weights named as in diffusers' state_dict.
 * Activations are NHWC inside; {@link #forward} takes and returns NHWC.
 */
public final class UNet2DConditionModel implements NoisePredictor, AutoCloseable {
    private final UNet2DConditionConfig config;
    private final Backend b;
    private final Weights weights;
    private final Timesteps timeProj;
    private final TimestepEmbedding timeEmbedding;
    private final Timesteps addTimeProj;
    private final TimestepEmbedding addEmbedding;
    private final Conv2d convIn, convOut;
    private final List<UNetDownBlock> downBlocks = new ArrayList<>();
    private final UNetMidBlock2DCrossAttn midBlock;
    private final List<UNetUpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final int numUpsamplers;

    public UNet2DConditionModel(UNet2DConditionConfig c, Weights weights, Backend backend) {
        this.config = c;
        this.b = backend;
        this.weights = weights;
        Params p = Params.root(backend, weights);
        int[] ch = c.blockOutChannels();
        int n = ch.length, temb = c.timeEmbedDim(), groups = c.normNumGroups();
        float eps = c.normEps();

        convIn = new Conv2d(p.child("conv_in"), c.inChannels(), ch[0], 3);
        timeProj = new Timesteps(backend, ch[0], c.flipSinToCos(), c.freqShift());
        timeEmbedding = new TimestepEmbedding(p.child("time_embedding"), ch[0], temb);
        if (c.additionEmbedType() != null) {
            addTimeProj = new Timesteps(backend, c.additionTimeEmbedDim(), c.flipSinToCos(), c.freqShift());
            addEmbedding = new TimestepEmbedding(p.child("add_embedding"), c.projectionClassEmbeddingsInputDim(), temb);
        } else {
            addTimeProj = null;
            addEmbedding = null;
        }

        int out = ch[0];
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch[i];
            boolean last = i == n - 1;
            Params bp = p.child("down_blocks." + i);
            downBlocks.add(c.downBlockTypes()[i].equals("CrossAttnDownBlock2D")
                    ? new CrossAttnDownBlock2D(bp, c.layersPerBlock(), in, out, temb, groups, eps, !last, c.downsamplePadding(),
                            c.numAttentionHeads()[i], c.transformerLayersPerBlock()[i], c.crossAttentionDim()[i], c.useLinearProjection())
                    : new DownBlock2D(bp, c.layersPerBlock(), in, out, temb, groups, eps, !last, c.downsamplePadding()));
        }

        midBlock = new UNetMidBlock2DCrossAttn(p.child("mid_block"), ch[n - 1], temb, groups, eps, c.numAttentionHeads()[n - 1],
                c.transformerLayersPerBlock()[n - 1], c.crossAttentionDim()[n - 1], c.useLinearProjection());

        int[] rch = reversed(ch);
        int[] rHeads = reversed(c.numAttentionHeads()), rLayers = reversed(c.transformerLayersPerBlock());
        int[] rCross = reversed(c.crossAttentionDim());
        int upsamplers = 0;
        out = rch[0];
        for (int i = 0; i < n; i++) {
            int prevOut = out;
            out = rch[i];
            int in = rch[Math.min(i + 1, n - 1)];
            boolean last = i == n - 1;
            if (!last) upsamplers++;
            Params bp = p.child("up_blocks." + i);
            upBlocks.add(c.upBlockTypes()[i].equals("CrossAttnUpBlock2D")
                    ? new CrossAttnUpBlock2D(bp, c.layersPerBlock() + 1, in, out, prevOut, temb, groups, eps, !last,
                            rHeads[i], rLayers[i], rCross[i], c.useLinearProjection())
                    : new UpBlock2D(bp, c.layersPerBlock() + 1, in, out, prevOut, temb, groups, eps, !last));
        }
        numUpsamplers = upsamplers;

        convNormOut = new GroupNorm(p.child("conv_norm_out"), groups, ch[0], eps);
        convOut = new Conv2d(p.child("conv_out"), ch[0], c.outChannels(), 3);
    }

    /**
     * A diffusers model folder (config.json and diffusion_pytorch_model.safetensors), or else
     * what {@link Checkpoint#open} reads: a single-file checkpoint (family detected, built-in
     * config) or a pipeline folder (model_index.json, its unet/). Every tensor of the U-Net must be
     * used: a leftover key means the config does not describe it.
     */
    public static UNet2DConditionModel load(Path path, Backend backend) throws IOException {
        if (!Files.isRegularFile(path.resolve("config.json"))) {
            try (Checkpoint checkpoint = Checkpoint.open(path)) {
                return checkpoint.loadUnet(backend);
            }
        }
        UNet2DConditionConfig config = UNet2DConditionConfig.read(path.resolve("config.json"));
        Path file = path.resolve("diffusion_pytorch_model.safetensors");
        if (!Files.exists(file)) throw new java.io.FileNotFoundException(file + ": no U-Net weights (diffusers folders name them so)");
        SafeTensorsWeights w = SafeTensorsWeights.open(file);
        try {
            UNet2DConditionModel model = new UNet2DConditionModel(config, w, backend);
            List<String> unused = w.unused();
            if (!unused.isEmpty()) {
                throw new WeightsException(w.source(), unused.get(0), "is not a parameter of the U-Net that "
                        + path.resolve("config.json") + " describes (" + unused.size() + " such keys)");
            }
            return model;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** The architecture of {@code config} with deterministic random weights (benchmarks, shape checks). */
    public static UNet2DConditionModel random(UNet2DConditionConfig config, Backend backend, long seed) {
        RandomWeights w = new RandomWeights(seed);
        try {
            return new UNet2DConditionModel(config, w, backend);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    public UNet2DConditionConfig config() {
        return config;
    }

    /**
     * sample NHWC (B, H, W, in_channels); timesteps one per sample or one for all;
     * encoderHiddenStates (B, L, cross_attention_dim); added: SDXL's conditions, else null.
     * Returns NHWC (B, H, W, out_channels).
     */
    @Override
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, AddedConditions added) {
        int batch = sample.dim(0);
        checkInputs(sample, timesteps, encoderHiddenStates, added);
        float[] t = timesteps.length == batch ? timesteps : filled(batch, timesteps[0]);

        return forward(sample, timeProj.forward(t), encoderHiddenStates, addedEmbedding(added, batch));
    }

    /** time_proj of the timesteps, (n, C): a loop that keeps everything on the device computes it once per run. */
    public Tensor timeProjection(float[] timesteps) {
        return timeProj.forward(timesteps);
    }

    /**
     * SDXL's add_embedding of the pooled text and the size/crop ids, (B, time_embed_dim); null for models
     * without added conditions. Constant over a run, so a device-resident loop computes it once.
     */
    public Tensor addedEmbedding(AddedConditions added, int batch) {
        if (addEmbedding == null) return null;
        float[] ids = b.download(added.timeIds()).toFloatArray();
        Tensor timeEmbeds = addTimeProj.forward(ids).reshape(batch, ids.length / batch * config.additionTimeEmbedDim());
        return addEmbedding.forward(b.concatChannels(added.textEmbeds(), timeEmbeds));
    }

    /**
     * The forward from precomputed {@link #timeProjection} rows (B, C) and {@link #addedEmbedding} (or null):
     * no host data on the way, which is what a device-resident loop needs.
     */
    public Tensor forward(Tensor sample, Tensor timeProjection, Tensor encoderHiddenStates, Tensor addedEmbedding) {
        Tensor emb = timeEmbedding.forward(timeProjection);
        if (addedEmbedding != null) emb = b.add(emb, addedEmbedding);

        // A latent that is not a multiple of 2^upsamplers makes each upsampler match its skip's size.
        int factor = 1 << numUpsamplers;
        boolean upsampleToSkip = sample.dim(1) % factor != 0 || sample.dim(2) % factor != 0;

        Tensor x = convIn.forward(sample);
        List<Tensor> skips = new ArrayList<>();
        skips.add(x);
        for (UNetDownBlock block : downBlocks) x = block.forward(x, emb, encoderHiddenStates, skips);

        x = midBlock.forward(x, emb, encoderHiddenStates);

        for (UNetUpBlock block : upBlocks) {
            int outH = -1, outW = -1;
            int next = skips.size() - block.resnetCount() - 1;
            if (upsampleToSkip && next >= 0) {
                outH = skips.get(next).dim(1);
                outW = skips.get(next).dim(2);
            }
            x = block.forward(x, emb, encoderHiddenStates, skips, outH, outW);
        }
        return convOut.forward(convNormOut.forwardSilu(x));
    }

    private void checkInputs(Tensor sample, float[] timesteps, Tensor ehs, AddedConditions added) {
        if (sample.rank() != 4 || sample.layout() != Layout.NHWC || sample.dim(3) != config.inChannels()) {
            throw new IllegalArgumentException("unet: sample must be NHWC (B, H, W, " + config.inChannels() + "), is "
                    + sample.layout() + " " + Arrays.toString(sample.shape()));
        }
        int batch = sample.dim(0);
        if (timesteps.length != 1 && timesteps.length != batch) {
            throw new IllegalArgumentException("unet: " + timesteps.length + " timesteps for a batch of " + batch);
        }
        int cross = config.crossAttentionDim()[0];
        if (ehs.rank() != 3 || ehs.dim(0) != batch || ehs.dim(2) != cross) {
            throw new IllegalArgumentException("unet: encoder_hidden_states must be (" + batch + ", L, " + cross + "), is "
                    + Arrays.toString(ehs.shape()));
        }
        if (addEmbedding != null) {
            if (added == null) throw new IllegalArgumentException("unet: this SDXL U-Net needs text_embeds and time_ids (addition_embed_type text_time)");
            Tensor text = added.textEmbeds(), ids = added.timeIds();
            if (text.rank() != 2 || ids.rank() != 2 || text.dim(0) != batch || ids.dim(0) != batch) {
                throw new IllegalArgumentException("unet: text_embeds and time_ids must be (" + batch + ", n), are "
                        + Arrays.toString(text.shape()) + " and " + Arrays.toString(ids.shape()));
            }
            // SDXL base has 6 ids (sizes, crop), the refiner 5 (with the aesthetic score).
            int need = config.projectionClassEmbeddingsInputDim();
            if (text.dim(1) + ids.dim(1) * config.additionTimeEmbedDim() != need) {
                throw new IllegalArgumentException("unet: text_embeds " + Arrays.toString(text.shape()) + " and time_ids "
                        + Arrays.toString(ids.shape()) + " give " + (text.dim(1) + ids.dim(1) * config.additionTimeEmbedDim())
                        + " features; projection_class_embeddings_input_dim is " + need);
            }
        } else if (added != null) {
            throw new IllegalArgumentException("unet: added conditions given, but the config has no addition_embed_type");
        }
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    private static int[] reversed(int[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[a.length - 1 - i];
        return r;
    }

    /** Releases the weights (the mapped file, or the random weights' memory). */
    @Override
    public void close() {
        weights.close();
    }
}
