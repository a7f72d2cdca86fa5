package dev.sdj.model.clip;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.io.checkpoint.CheckpointWeights;
import dev.sdj.io.checkpoint.LdmKeyMap;
import dev.sdj.model.ParameterShapes;
import dev.sdj.model.Params;
import dev.sdj.model.RandomWeights;
import dev.sdj.model.SafeTensorsWeights;
import dev.sdj.model.Weights;
import dev.sdj.model.WeightsException;
import dev.sdj.model.nn.Linear;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * transformers' CLIPTextModel, or CLIPTextModelWithProjection when the config says so: the text
 * encoder of Stable Diffusion. Built from a {@link CLIPTextConfig} and weights under transformers'
 * names ({@code text_model.embeddings.token_embedding.weight},
 * {@code text_model.encoder.layers.N.self_attn.q_proj.weight}, …, {@code text_projection.weight}),
 * so loading is a name lookup: from a diffusers folder's text_encoder/ ({@link #load(Path, Backend)}),
 * from any checkpoint sdj opens, single-file ones included ({@link #load(Checkpoint, String, Backend)}),
 * or from any {@link Weights} (the constructor).
 *
 * <p>{@link #forward} returns everything a pipeline takes its conditioning from ({@link Output}).
 * What each family uses:
 * <ul>
 *   <li><b>SD1.x</b> (CLIP ViT-L): {@link Output#lastHiddenState()} (768 wide). With A1111's "clip skip"
 *       n ≥ 2: {@link #clipSkip clipSkip(output, n)} = final_layer_norm(hidden_states[−n]); diffusers'
 *       {@code clip_skip=k} is A1111's k + 1.</li>
 *   <li><b>SD2.x</b> (OpenCLIP ViT-H, 23 layers as diffusers keeps it): {@link Output#lastHiddenState()}
 *       (1024 wide). That is OpenCLIP's penultimate layer with its ln_final, because the 24th layer is
 *       gone from the config.</li>
 *   <li><b>SDXL</b>: {@link Output#penultimate()} (hidden_states[−2], <i>without</i> final_layer_norm) of
 *       both encoders, concatenated, 768 + 1280 = 2048 ({@link #sdxlContext}); the U-Net's pooled
 *       {@code text_embeds} are {@link Output#textEmbeds()} of text_encoder_2 (bigG, with projection).
 *       diffusers' SDXL {@code clip_skip=k} takes hidden_states[−(k + 2)]: {@link Output#hiddenState}.
 *       The refiner has only text_encoder_2 (1280 context, same pooled output).</li>
 * </ul>
 */
public final class CLIPTextModel implements AutoCloseable {
    private final CLIPTextConfig config;
    private final Weights weights;
    private final CLIPTextTransformer textModel;
    private final Linear textProjection;

    /**
     * The model of {@code config} on {@code backend} from {@code weights} (transformers' names);
     * it closes the weights when it is closed. With a null backend nothing is uploaded (used to
     * list the parameters).
     */
    public CLIPTextModel(CLIPTextConfig config, Weights weights, Backend backend) {
        this.config = config;
        this.weights = weights;
        Params p = Params.root(backend, weights);
        this.textModel = new CLIPTextTransformer(p.child("text_model"), config);
        this.textProjection = config.withProjection()
                ? new Linear(p.child("text_projection"), config.hiddenSize(), config.projectionDim(), false) : null;
    }

    /**
     * What the encoder computes for a batch of prompts, as transformers returns it with
     * {@code output_hidden_states=True}.
     *
     * @param lastHiddenState (B, L, hidden): final_layer_norm of the last layer's output
     * @param pooledOutput    (B, hidden): lastHiddenState at each row's EOS token
     * @param textEmbeds      (B, projection_dim): text_projection(pooledOutput); null without a projection
     * @param hiddenStates    the embeddings, then every layer's output before final_layer_norm
     *                        (num_hidden_layers + 1 tensors of (B, L, hidden))
     */
    public record Output(Tensor lastHiddenState, Tensor pooledOutput, Tensor textEmbeds, List<Tensor> hiddenStates) {

        /** hidden_states[−n] in Python's terms: 1 is the last layer's output, 2 the penultimate, … (no final_layer_norm). */
        public Tensor hiddenState(int fromEnd) {
            if (fromEnd < 1 || fromEnd > hiddenStates.size()) {
                throw new IllegalArgumentException("hidden_states[-" + fromEnd + "]: there are " + hiddenStates.size()
                        + " hidden states (the embeddings and " + (hiddenStates.size() - 1) + " layers)");
            }
            return hiddenStates.get(hiddenStates.size() - fromEnd);
        }

        /** hidden_states[−2], no final_layer_norm: what SDXL conditions on. */
        public Tensor penultimate() {
            return hiddenState(2);
        }
    }

    /**
     * Encodes B rows of token ids (as the CLIP tokenizer pads them: 77 per row for SD) on the
     * backend. All outputs live on the backend (inside the caller's {@link Backend#scope} if one
     * is open); the hidden states cost nothing extra, they are computed anyway.
     */
    public Output forward(int[][] ids) {
        CLIPTextTransformer.Output o = textModel.forward(ids);
        Tensor embeds = textProjection == null ? null : textProjection.forward(o.pooledOutput());
        return new Output(o.lastHiddenState(), o.pooledOutput(), embeds, o.hiddenStates());
    }

    /** input_ids (B, L) as transformers takes them: a host tensor of any integer (or integral float) dtype. */
    public Output forward(Tensor inputIds) {
        return forward(ids(inputIds));
    }

    /** final_layer_norm of {@code x} (B, L, hidden). */
    public Tensor finalLayerNorm(Tensor x) {
        return textModel.finalLayerNorm(x);
    }

    /**
     * A1111's "clip skip" for SD1.x: 1 is {@code lastHiddenState}, n ≥ 2 is
     * final_layer_norm(hidden_states[−n]) (2: the penultimate layer's output, normalized).
     */
    public Tensor clipSkip(Output o, int clipSkip) {
        if (clipSkip < 1) throw new IllegalArgumentException("clip skip must be 1 or more, is " + clipSkip);
        return clipSkip == 1 ? o.lastHiddenState() : finalLayerNorm(o.hiddenState(clipSkip));
    }

    /**
     * SDXL base's cross-attention context: hidden_states[−2] of text_encoder (768) and of
     * text_encoder_2 (1280), concatenated to (B, L, 2048).
     */
    public static Tensor sdxlContext(Backend backend, Output textEncoder, Output textEncoder2) {
        return backend.concatChannels(textEncoder.penultimate(), textEncoder2.penultimate());
    }

    public CLIPTextConfig config() {
        return config;
    }

    /** The position each row is pooled at ({@link CLIPTextTransformer#eosPosition}). */
    public int eosPosition(int[] ids) {
        return CLIPTextTransformer.eosPosition(ids, config.eosTokenId());
    }

    // ---- loading ----

    /**
     * A diffusers text_encoder/ (or text_encoder_2/) folder: config.json and model.safetensors
     * (or model.fp16.safetensors). Every tensor must be a parameter of the model, except what
     * {@link #load(Checkpoint, String, Backend)} also leaves (layers past the config, an unused
     * text_projection, position_ids).
     */
    public static CLIPTextModel load(Path folder, Backend backend) throws IOException {
        CLIPTextConfig config = CLIPTextConfig.read(folder.resolve("config.json"));
        Path file = null;
        for (String n : List.of("model.safetensors", "model.fp16.safetensors")) {
            if (Files.isRegularFile(folder.resolve(n))) {
                file = folder.resolve(n);
                break;
            }
        }
        if (file == null) throw new NoSuchFileException(folder.resolve("model.safetensors").toString(), null, "no text encoder weights");
        SafeTensorsWeights w = SafeTensorsWeights.open(file);
        return build(config, w, backend, w::unused, folder.resolve("config.json").toString());
    }

    /**
     * {@code component} ("text_encoder" or "text_encoder_2") of a checkpoint: a single file (its
     * text encoders in SD1's HF naming or SD2/SDXL's OpenCLIP naming, renamed by the checkpoint's
     * {@link LdmKeyMap}) with the family's built-in config, or a pipeline folder with its own
     * config.json. OpenCLIP's 24th ViT-H layer (SD2 files) and a text_projection the config does
     * not use are left unused, as diffusers does; any other unused key fails the load.
     */
    public static CLIPTextModel load(Checkpoint checkpoint, String component, Backend backend) throws IOException {
        if (!component.equals("text_encoder") && !component.equals("text_encoder_2")) {
            throw new IllegalArgumentException("not a text encoder component: " + component);
        }
        CLIPTextConfig config;
        String source;
        if (checkpoint.isSingleFile()) {
            String family = checkpoint.family().builtin;
            config = CLIPTextConfig.builtin(family, component);
            source = "built-in " + family + " " + component;
        } else {
            Path json = checkpoint.path().resolve(component).resolve("config.json");
            config = CLIPTextConfig.read(json);
            source = json.toString();
        }
        return load(checkpoint, component, config, source, backend);
    }

    /** As {@link #load(Checkpoint, String, Backend)} with the given config (a fine-tune's, or a test's tiny one). */
    public static CLIPTextModel load(Checkpoint checkpoint, String component, CLIPTextConfig config, Backend backend) {
        return load(checkpoint, component, config, config.toString(), backend);
    }

    private static CLIPTextModel load(Checkpoint checkpoint, String component, CLIPTextConfig config, String source, Backend backend) {
        CheckpointWeights w = checkpoint.weights(component);
        return build(config, w, backend, w::unused, source);
    }

    private static CLIPTextModel build(CLIPTextConfig config, Weights w, Backend backend, Supplier<List<String>> unused, String source) {
        try {
            CLIPTextModel m = new CLIPTextModel(config, w, backend);
            List<String> left = unused.get().stream().filter(k -> !leftOnPurpose(k, config)).toList();
            if (!left.isEmpty()) {
                throw new WeightsException(w.source(), left.get(0), "is not a parameter of the text encoder that " + source
                        + " describes (" + left.size() + " such keys)");
            }
            return m;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    private static final Pattern LAYER = Pattern.compile(".*(?:\\.layers|\\.resblocks)\\.(\\d+)\\..*");

    /**
     * A key the config does not use on purpose: a layer past num_hidden_layers (diffusers' SD2
     * drops OpenCLIP's last), a text_projection of a model without one, training state.
     */
    static boolean leftOnPurpose(String key, CLIPTextConfig config) {
        if (LdmKeyMap.ignoredReason(key) != null) return true;
        Matcher m = LAYER.matcher(key);
        if (m.matches() && Integer.parseInt(m.group(1)) >= config.numHiddenLayers()) return true;
        return !config.withProjection() && (key.endsWith("text_projection") || key.endsWith("text_projection.weight"));
    }

    /** The architecture of {@code config} with deterministic random weights (benchmarks, shape checks). */
    public static CLIPTextModel random(CLIPTextConfig config, Backend backend, long seed) {
        RandomWeights w = new RandomWeights(seed);
        try {
            return new CLIPTextModel(config, w, backend);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** The parameters {@code config}'s model needs, by transformers name, with their shapes (no memory used). */
    public static Map<String, int[]> parameterShapes(CLIPTextConfig config) {
        return ParameterShapes.of(w -> new CLIPTextModel(config, w, null));
    }

    public static long parameterCount(CLIPTextConfig config) {
        return ParameterShapes.count(parameterShapes(config));
    }

    /** A host (B, L) integer tensor of token ids as int rows. */
    static int[][] ids(Tensor t) {
        if (t.rank() != 2) throw new IllegalArgumentException("input_ids must be (B, L), is " + java.util.Arrays.toString(t.shape()));
        int[][] ids = new int[t.dim(0)][t.dim(1)];
        for (int r = 0; r < ids.length; r++) {
            for (int i = 0; i < ids[r].length; i++) {
                double v = t.getDouble((long) r * ids[r].length + i);
                if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("input_ids must hold integers, has " + v);
                }
                ids[r][i] = (int) v;
            }
        }
        return ids;
    }

    /** Releases the weights (the mapped file, or the random weights' memory). */
    @Override
    public void close() {
        weights.close();
    }
}
