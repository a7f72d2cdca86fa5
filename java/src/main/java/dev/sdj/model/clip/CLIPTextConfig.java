package dev.sdj.model.clip;

import dev.sdj.model.BuiltinConfigs;
import dev.sdj.model.ConfigException;
import dev.sdj.model.DiffusersConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The options of transformers' {@code CLIPTextConfig} (a text encoder's {@code config.json} in a
 * diffusers folder) that SD's text encoders use, with transformers' defaults for what a config
 * leaves out. {@code withProjection}: the config's architecture is
 * {@code CLIPTextModelWithProjection} (SDXL's text_encoder_2), whose {@code text_projection} maps
 * the pooled output to {@code projection_dim}.
 *
 * <p>The real encoders (configs shipped with sdj, the same files as shared/configs):
 * <ul>
 *   <li>{@link #clipVitL()}: OpenAI CLIP ViT-L/14, SD1.x's text_encoder and SDXL's first one: 768 wide,
 *       12 layers, 12 heads, MLP 3072, quick_gelu. 123,060,480 parameters.</li>
 *   <li>{@link #openClipVitH()}: OpenCLIP ViT-H/14, SD2.x's text_encoder, as diffusers keeps it: 1024
 *       wide, 23 of OpenCLIP's 24 layers (SD2 conditions on the penultimate layer), 16 heads, MLP 4096,
 *       gelu. 340,387,840 parameters.</li>
 *   <li>{@link #openClipBigG()}: OpenCLIP ViT-bigG/14, SDXL's text_encoder_2 (base and refiner): 1280
 *       wide, 32 layers, 20 heads, MLP 5120, gelu, with the 1280 → 1280 projection. 694,659,840 parameters.</li>
 * </ul>
 * Any other option, or a value sdj does not implement, is rejected by {@link #from}.
 */
public record CLIPTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct, float layerNormEps,
                             int projectionDim, int eosTokenId, boolean withProjection) {

    /** The activations of CLIPMLP sdj implements (transformers' ACT2FN names). */
    public static final List<String> ACTIVATIONS = List.of("quick_gelu", "gelu");

    static final List<String> ARCHITECTURES = List.of("CLIPTextModel", "CLIPTextModelWithProjection");

    public static CLIPTextConfig read(Path configJson) throws IOException {
        return from(DiffusersConfig.read(configJson));
    }

    public static CLIPTextConfig parse(String source, String json) throws IOException {
        return from(DiffusersConfig.parse(source, json));
    }

    /** SD1.x's text_encoder, SDXL's text_encoder: CLIP ViT-L/14. */
    public static CLIPTextConfig clipVitL() {
        return builtin("sd15", "text_encoder");
    }

    /** SD2.x's text_encoder: OpenCLIP ViT-H/14 with 23 layers. */
    public static CLIPTextConfig openClipVitH() {
        return builtin("sd21", "text_encoder");
    }

    /** SDXL's text_encoder_2: OpenCLIP ViT-bigG/14 with its projection. */
    public static CLIPTextConfig openClipBigG() {
        return builtin("sdxl", "text_encoder_2");
    }

    /** The built-in config of {@code component} ("text_encoder", "text_encoder_2") of model {@code name} ({@link BuiltinConfigs#NAMES}). */
    public static CLIPTextConfig builtin(String name, String component) {
        return from(BuiltinConfigs.component(name, component));
    }

    public static CLIPTextConfig from(DiffusersConfig c) {
        String[] archs = c.getStrings("architectures", new String[] {"CLIPTextModel"});
        for (String a : archs) {
            if (!ARCHITECTURES.contains(a)) {
                throw new ConfigException(c.source(), "architectures", "entry " + a + " is not implemented by sdj (supported: " + ARCHITECTURES + ")");
            }
        }
        if (archs.length > 1) throw new ConfigException(c.source(), "architectures", "= " + Arrays.toString(archs) + ": one architecture expected");
        boolean projection = archs.length == 1 && archs[0].equals("CLIPTextModelWithProjection");
        c.requireValue("model_type", "clip_text_model");

        String act = c.getString("hidden_act", "quick_gelu");
        if (!ACTIVATIONS.contains(act)) {
            throw new ConfigException(c.source(), "hidden_act", "= " + act + " is not implemented by sdj (supported: " + ACTIVATIONS + ")");
        }
        CLIPTextConfig cfg = new CLIPTextConfig(
                c.getInt("vocab_size", 49408), c.getInt("hidden_size", 512), c.getInt("intermediate_size", 2048),
                c.getInt("num_hidden_layers", 12), c.getInt("num_attention_heads", 8), c.getInt("max_position_embeddings", 77),
                act, (float) c.getDouble("layer_norm_eps", 1e-5), c.getInt("projection_dim", 512),
                c.getInt("eos_token_id", 49407), projection);

        // No effect at inference: dropout, init scales, the other special tokens, dtype and version bookkeeping.
        for (String key : List.of("dropout", "attention_dropout", "initializer_range", "initializer_factor", "bos_token_id",
                "pad_token_id", "torch_dtype", "transformers_version")) {
            c.ignore(key);
        }
        // PretrainedConfig options that would change the model's outputs; only their defaults are implemented.
        c.requireValue("is_decoder", false);
        c.requireValue("add_cross_attention", false);
        c.requireValue("is_encoder_decoder", false);
        c.requireNull("pruned_heads");
        c.rejectUnread();
        cfg.validate(c.source());
        return cfg;
    }

    private void validate(String source) {
        positive(source, "vocab_size", vocabSize);
        positive(source, "hidden_size", hiddenSize);
        positive(source, "intermediate_size", intermediateSize);
        positive(source, "num_hidden_layers", numHiddenLayers);
        positive(source, "num_attention_heads", numAttentionHeads);
        positive(source, "max_position_embeddings", maxPositionEmbeddings);
        if (withProjection) positive(source, "projection_dim", projectionDim);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new ConfigException(source, "num_attention_heads", "= " + numAttentionHeads + " does not divide hidden_size " + hiddenSize);
        }
        if (!(layerNormEps > 0)) throw new ConfigException(source, "layer_norm_eps", "must be positive, is " + layerNormEps);
    }

    private static void positive(String source, String key, int v) {
        if (v <= 0) throw new ConfigException(source, key, "must be positive, is " + v);
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** This config as CLIPTextModelWithProjection ({@code true}) or CLIPTextModel. */
    public CLIPTextConfig withProjection(boolean projection) {
        return new CLIPTextConfig(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads,
                maxPositionEmbeddings, hiddenAct, layerNormEps, projectionDim, eosTokenId, projection);
    }

    /** This config with {@code layers} encoder layers (SD2's text encoder is OpenCLIP ViT-H without its last layer). */
    public CLIPTextConfig withLayers(int layers) {
        return new CLIPTextConfig(vocabSize, hiddenSize, intermediateSize, layers, numAttentionHeads,
                maxPositionEmbeddings, hiddenAct, layerNormEps, projectionDim, eosTokenId, withProjection);
    }

    @Override
    public String toString() {
        return "CLIPTextConfig[hidden " + hiddenSize + ", " + numHiddenLayers + " layers, " + numAttentionHeads + " heads, MLP "
                + intermediateSize + ", " + hiddenAct + ", " + maxPositionEmbeddings + " positions, vocab " + vocabSize
                + (withProjection ? ", projection " + projectionDim : "") + "]";
    }
}
