package dev.sdj.io.checkpoint;

import dev.sdj.model.AutoencoderKLConfig;
import dev.sdj.model.UNet2DConditionConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The one place that knows how original single-file checkpoints (LDM / CompVis naming, as A1111
 * and ComfyUI save them) name the tensors that diffusers names otherwise, in both directions.
 *
 * <p>U-Net and VAE: a table of module prefixes built from the config the way diffusers'
 * {@code convert_ldm_unet_checkpoint} / {@code convert_ldm_vae_checkpoint} walk it. LDM numbers
 * the U-Net's modules in one flat sequence per side: {@code input_blocks.k} with k = 1 + level·(L+1)
 * + layer (L = layers_per_block; the last k of a level is its downsampler), {@code output_blocks.k}
 * with k = level·(L+1) + layer, where a level with attention holds the resnet at {@code .0}, the
 * transformer at {@code .1} and its upsampler at {@code .2} (at {@code .1} without attention). Inside
 * a module only a few leaf names differ (resnets: {@code in_layers.0} = norm1, ...). The VAE's
 * decoder numbers its levels in reverse ({@code up.i} = diffusers' {@code up_blocks.(n-1-i)}).
 *
 * <p>Text encoders (names only, their models do not exist yet): HF-named CLIP under
 * {@code cond_stage_model.transformer.} (SD1) or {@code conditioner.embedders.0.transformer.}
 * (SDXL) keeps diffusers' names; OpenCLIP under {@code cond_stage_model.model.} (SD2) or
 * {@code conditioner.embedders.N.model.} (SDXL) renames them and fuses each layer's q, k and v into
 * one {@code in_proj} tensor, which a {@link Source} names with the third to take.
 */
public final class LdmKeyMap {

    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";

    /** How the diffusers tensor is seen in the checkpoint's tensor. */
    public enum View {
        /** The same tensor. */
        AS_IS,
        /**
         * The VAE attention's q/k/v/proj_out: 1×1 convs [C,C,1,1] in LDM, Linear [C,C] in
         * diffusers; the same bytes, so a reshape (also accepted when the file already has [C,C]).
         */
        SQUEEZE_1X1,
        /** One third along dim 0 ({@link Source#part} 0, 1, 2 = q, k, v of OpenCLIP's in_proj): a zero-copy slice. */
        THIRD,
        /**
         * OpenCLIP's text_projection, applied as x·P with P [width, proj]; diffusers has the Linear
         * weight Pᵀ. The only view that copies (one small matrix).
         */
        TRANSPOSED
    }

    /** Where one diffusers tensor lies in the checkpoint: the key, and how to view it. */
    public record Source(String key, View view, int part) {
        static Source of(String key) {
            return new Source(key, View.AS_IS, 0);
        }
    }

    private enum Style { MODULES, CLIP, OPEN_CLIP }

    /** The leaf names inside one kind of module that differ: {diffusers, LDM} pairs. */
    private enum Kind {
        PLAIN(null),
        RESNET(new String[][] {{"norm1", "in_layers.0"}, {"conv1", "in_layers.2"}, {"time_emb_proj", "emb_layers.1"},
                {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}}),
        VAE_RESNET(new String[][] {{"norm1", "norm1"}, {"conv1", "conv1"}, {"norm2", "norm2"}, {"conv2", "conv2"},
                {"conv_shortcut", "nin_shortcut"}}),
        VAE_ATTENTION(new String[][] {{"group_norm", "norm"}, {"to_q", "q"}, {"to_k", "k"}, {"to_v", "v"}, {"to_out.0", "proj_out"}});

        final String[][] leaves;

        Kind(String[][] leaves) {
            this.leaves = leaves;
        }

        /** The leaf renamed from column {@code from} to column 1 - from; null when this kind has no such leaf. */
        String rename(String leaf, int from) {
            if (leaves == null) return leaf;
            for (String[] pair : leaves) {
                if (leaf.startsWith(pair[from] + ".")) return pair[1 - from] + leaf.substring(pair[from].length());
            }
            return null;
        }
    }

    private record Rule(String diffusers, String ldm, Kind kind) {}

    private final Style style;
    private final String prefix;
    private final Map<String, Rule> byDiffusers = new HashMap<>(), byLdm = new HashMap<>();
    private final boolean textModelInfix;

    private LdmKeyMap(Style style, String prefix, boolean textModelInfix) {
        this.style = style;
        this.prefix = prefix;
        this.textModelInfix = textModelInfix;
    }

    /** The prefix every key of this component has in the checkpoint ("model.diffusion_model."). */
    public String prefix() {
        return prefix;
    }

    private void module(String diffusers, String ldm, Kind kind) {
        Rule r = new Rule(diffusers + ".", ldm + ".", kind);
        byDiffusers.put(r.diffusers, r);
        byLdm.put(r.ldm, r);
    }

    // ---- U-Net ----

    public static LdmKeyMap unet(UNet2DConditionConfig c) {
        return unet(c, UNET_PREFIX);
    }

    /** The U-Net of config {@code c} under {@code prefix} ("" for a U-Net file with the prefix stripped). */
    public static LdmKeyMap unet(UNet2DConditionConfig c, String prefix) {
        LdmKeyMap m = new LdmKeyMap(Style.MODULES, prefix, false);
        int layers = c.layersPerBlock(), n = c.levels();
        m.module("conv_in", "input_blocks.0.0", Kind.PLAIN);
        m.module("time_embedding.linear_1", "time_embed.0", Kind.PLAIN);
        m.module("time_embedding.linear_2", "time_embed.2", Kind.PLAIN);
        if (c.additionEmbedType() != null) { // SDXL's text_time conditioning: LDM's "label_emb" (its ADM input)
            m.module("add_embedding.linear_1", "label_emb.0.0", Kind.PLAIN);
            m.module("add_embedding.linear_2", "label_emb.0.2", Kind.PLAIN);
        }
        for (int i = 0; i < n; i++) {
            boolean attention = c.downBlockTypes()[i].equals("CrossAttnDownBlock2D");
            for (int j = 0; j < layers; j++) {
                int k = 1 + i * (layers + 1) + j;
                m.module("down_blocks." + i + ".resnets." + j, "input_blocks." + k + ".0", Kind.RESNET);
                if (attention) m.module("down_blocks." + i + ".attentions." + j, "input_blocks." + k + ".1", Kind.PLAIN);
            }
            if (i < n - 1) {
                m.module("down_blocks." + i + ".downsamplers.0.conv", "input_blocks." + (1 + i * (layers + 1) + layers) + ".0.op", Kind.PLAIN);
            }
        }
        m.module("mid_block.resnets.0", "middle_block.0", Kind.RESNET);
        m.module("mid_block.attentions.0", "middle_block.1", Kind.PLAIN);
        m.module("mid_block.resnets.1", "middle_block.2", Kind.RESNET);
        for (int i = 0; i < n; i++) {
            boolean attention = c.upBlockTypes()[i].equals("CrossAttnUpBlock2D");
            for (int j = 0; j <= layers; j++) {
                int k = i * (layers + 1) + j;
                m.module("up_blocks." + i + ".resnets." + j, "output_blocks." + k + ".0", Kind.RESNET);
                if (attention) m.module("up_blocks." + i + ".attentions." + j, "output_blocks." + k + ".1", Kind.PLAIN);
            }
            if (i < n - 1) {
                m.module("up_blocks." + i + ".upsamplers.0.conv",
                        "output_blocks." + (i * (layers + 1) + layers) + "." + (attention ? 2 : 1) + ".conv", Kind.PLAIN);
            }
        }
        m.module("conv_norm_out", "out.0", Kind.PLAIN);
        m.module("conv_out", "out.2", Kind.PLAIN);
        return m;
    }

    // ---- VAE ----

    public static LdmKeyMap vae(AutoencoderKLConfig c) {
        return vae(c, VAE_PREFIX);
    }

    /** The VAE of config {@code c} under {@code prefix} ("" for a standalone LDM VAE file). */
    public static LdmKeyMap vae(AutoencoderKLConfig c, String prefix) {
        LdmKeyMap m = new LdmKeyMap(Style.MODULES, prefix, false);
        int layers = c.layersPerBlock(), n = c.blockOutChannels().length;
        for (String part : new String[] {"encoder", "decoder"}) {
            m.module(part + ".conv_in", part + ".conv_in", Kind.PLAIN);
            m.module(part + ".mid_block.resnets.0", part + ".mid.block_1", Kind.VAE_RESNET);
            m.module(part + ".mid_block.attentions.0", part + ".mid.attn_1", Kind.VAE_ATTENTION);
            m.module(part + ".mid_block.resnets.1", part + ".mid.block_2", Kind.VAE_RESNET);
            m.module(part + ".conv_norm_out", part + ".norm_out", Kind.PLAIN);
            m.module(part + ".conv_out", part + ".conv_out", Kind.PLAIN);
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < layers; j++) {
                m.module("encoder.down_blocks." + i + ".resnets." + j, "encoder.down." + i + ".block." + j, Kind.VAE_RESNET);
            }
            if (i < n - 1) m.module("encoder.down_blocks." + i + ".downsamplers.0.conv", "encoder.down." + i + ".downsample.conv", Kind.PLAIN);
        }
        for (int i = 0; i < n; i++) {
            int level = n - 1 - i; // LDM counts the decoder's levels from the image side
            for (int j = 0; j <= layers; j++) {
                m.module("decoder.up_blocks." + i + ".resnets." + j, "decoder.up." + level + ".block." + j, Kind.VAE_RESNET);
            }
            if (i < n - 1) m.module("decoder.up_blocks." + i + ".upsamplers.0.conv", "decoder.up." + level + ".upsample.conv", Kind.PLAIN);
        }
        m.module("quant_conv", "quant_conv", Kind.PLAIN);
        m.module("post_quant_conv", "post_quant_conv", Kind.PLAIN);
        return m;
    }

    // ---- text encoders ----

    /**
     * An HF-named CLIP text encoder under {@code prefix} (diffusers' names follow it). Checkpoints
     * saved with old transformers versions lack the {@code text_model.} level: then
     * {@code textModelInfix} is false.
     */
    public static LdmKeyMap clip(String prefix, boolean textModelInfix) {
        return new LdmKeyMap(Style.CLIP, prefix, textModelInfix);
    }

    /** An OpenCLIP text tower under {@code prefix} ("cond_stage_model.model.", "conditioner.embedders.1.model."). */
    public static LdmKeyMap openClip(String prefix) {
        return new LdmKeyMap(Style.OPEN_CLIP, prefix, false);
    }

    // OpenCLIP leaf ↔ HF leaf inside one layer (resblocks.N ↔ text_model.encoder.layers.N).
    private static final String[][] OPEN_CLIP_LAYER = {
            {"attn.out_proj.", "self_attn.out_proj."}, {"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."},
            {"mlp.c_fc.", "mlp.fc1."}, {"mlp.c_proj.", "mlp.fc2."}};
    // OpenCLIP top-level tensor ↔ HF name.
    private static final String[][] OPEN_CLIP_TOP = {
            {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
            {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
            {"ln_final.weight", "text_model.final_layer_norm.weight"},
            {"ln_final.bias", "text_model.final_layer_norm.bias"},
            {"text_projection", "text_projection.weight"}};
    private static final String LAYERS = "text_model.encoder.layers.", RESBLOCKS = "transformer.resblocks.";
    private static final String[] QKV = {"q_proj", "k_proj", "v_proj"};

    /**
     * The diffusers (HF transformers) parameter names of a CLIP text encoder with {@code layers}
     * layers; {@code projection}: CLIPTextModelWithProjection (SDXL's second encoder).
     */
    public static List<String> clipTextEncoderNames(int layers, boolean projection) {
        List<String> names = new ArrayList<>(List.of("text_model.embeddings.token_embedding.weight",
                "text_model.embeddings.position_embedding.weight"));
        for (int i = 0; i < layers; i++) {
            for (String m : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                    "layer_norm1", "mlp.fc1", "mlp.fc2", "layer_norm2"}) {
                names.add(LAYERS + i + "." + m + ".weight");
                names.add(LAYERS + i + "." + m + ".bias");
            }
        }
        names.add("text_model.final_layer_norm.weight");
        names.add("text_model.final_layer_norm.bias");
        if (projection) names.add("text_projection.weight");
        return names;
    }

    // ---- both directions ----

    /** Where diffusers' {@code name} lies in the checkpoint, or null when this map has no such parameter. */
    public Source toLdm(String name) {
        return switch (style) {
            case MODULES -> {
                for (int dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) {
                    Rule r = byDiffusers.get(name.substring(0, dot + 1));
                    if (r == null) continue;
                    String leaf = r.kind.rename(name.substring(dot + 1), 0);
                    if (leaf == null) yield null;
                    // diffusers' conv_attn_to_linear: only the VAE attention's weights change rank
                    View view = r.kind == Kind.VAE_ATTENTION && !leaf.startsWith("norm.") && leaf.endsWith(".weight")
                            ? View.SQUEEZE_1X1 : View.AS_IS;
                    yield new Source(prefix + r.ldm + leaf, view, 0);
                }
                yield null;
            }
            case CLIP -> {
                if (textModelInfix || !name.startsWith("text_model.")) yield Source.of(prefix + name);
                yield Source.of(prefix + name.substring("text_model.".length()));
            }
            case OPEN_CLIP -> openClipToLdm(name);
        };
    }

    /**
     * The diffusers names the checkpoint's {@code key} holds (one, or q, k, v for an OpenCLIP
     * in_proj); empty when the key is not one of this component's tensors.
     */
    public List<String> toDiffusers(String key) {
        if (!key.startsWith(prefix)) return List.of();
        String rest = key.substring(prefix.length());
        return switch (style) {
            case MODULES -> {
                for (int dot = rest.lastIndexOf('.'); dot > 0; dot = rest.lastIndexOf('.', dot - 1)) {
                    Rule r = byLdm.get(rest.substring(0, dot + 1));
                    if (r == null) continue;
                    String leaf = r.kind.rename(rest.substring(dot + 1), 1);
                    yield leaf == null ? List.of() : List.of(r.diffusers + leaf);
                }
                yield List.of();
            }
            case CLIP -> {
                if (rest.startsWith("text_model.") || rest.equals("text_projection.weight")) yield List.of(rest);
                // old transformers: embeddings., encoder., final_layer_norm. sat at the top
                yield List.of("text_model." + rest);
            }
            case OPEN_CLIP -> openClipToDiffusers(rest);
        };
    }

    private Source openClipToLdm(String name) {
        for (String[] top : OPEN_CLIP_TOP) {
            if (top[1].equals(name)) {
                return new Source(prefix + top[0], top[0].equals("text_projection") ? View.TRANSPOSED : View.AS_IS, 0);
            }
        }
        if (!name.startsWith(LAYERS)) return null;
        int dot = name.indexOf('.', LAYERS.length());
        if (dot < 0) return null;
        String layer = name.substring(LAYERS.length(), dot), leaf = name.substring(dot + 1);
        String block = prefix + RESBLOCKS + layer + ".";
        for (int q = 0; q < 3; q++) {
            String fused = "self_attn." + QKV[q] + ".";
            if (leaf.equals(fused + "weight")) return new Source(block + "attn.in_proj_weight", View.THIRD, q);
            if (leaf.equals(fused + "bias")) return new Source(block + "attn.in_proj_bias", View.THIRD, q);
        }
        for (String[] pair : OPEN_CLIP_LAYER) {
            if (leaf.startsWith(pair[1])) return Source.of(block + pair[0] + leaf.substring(pair[1].length()));
        }
        return null;
    }

    private List<String> openClipToDiffusers(String rest) {
        for (String[] top : OPEN_CLIP_TOP) {
            if (top[0].equals(rest)) return List.of(top[1]);
        }
        if (!rest.startsWith(RESBLOCKS)) return List.of();
        int dot = rest.indexOf('.', RESBLOCKS.length());
        if (dot < 0) return List.of();
        String layer = LAYERS + rest.substring(RESBLOCKS.length(), dot) + ".", leaf = rest.substring(dot + 1);
        for (String kind : new String[] {"weight", "bias"}) {
            if (leaf.equals("attn.in_proj_" + kind)) {
                List<String> out = new ArrayList<>();
                for (String q : QKV) out.add(layer + "self_attn." + q + "." + kind);
                return out;
            }
        }
        for (String[] pair : OPEN_CLIP_LAYER) {
            if (leaf.startsWith(pair[0])) return List.of(layer + pair[1] + leaf.substring(pair[0].length()));
        }
        return List.of();
    }

    // ---- keys that are no model's parameters ----

    // The training noise schedule LDM registers as buffers, saved at the top level of the file.
    private static final Set<String> DDPM_BUFFERS = Set.of("betas", "alphas_cumprod", "alphas_cumprod_prev",
            "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
            "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
            "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar");

    /**
     * Why a checkpoint key is safe to leave unused (training state that diffusers' conversion drops
     * too), or null when it is not one of those.
     */
    public static String ignoredReason(String key) {
        if (DDPM_BUFFERS.contains(key)) return "the training noise schedule (DDPM buffers)";
        if (key.startsWith("model_ema.")) return "EMA weights (training)";
        if (key.startsWith(VAE_PREFIX + "loss.")) return "the VAE's training loss";
        if (key.endsWith("logit_scale")) return "CLIP's contrastive logit scale (training)";
        if (key.endsWith("position_ids")) return "CLIP's position-index buffer (not a weight)";
        return null;
    }
}
