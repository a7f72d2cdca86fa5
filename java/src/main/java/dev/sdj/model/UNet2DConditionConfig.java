package dev.sdj.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The options of diffusers' UNet2DConditionModel that SD1.x, SD2.x and SDXL checkpoints use,
 * with diffusers' defaults. Per-block lists are expanded (one entry per down block). Any other
 * option, or a value of one sdj does not implement, is rejected by {@link #from}.
 */
public record UNet2DConditionConfig(
        int inChannels, int outChannels, boolean flipSinToCos, int freqShift,
        String[] downBlockTypes, String[] upBlockTypes, int[] blockOutChannels, int layersPerBlock,
        int downsamplePadding, int normNumGroups, float normEps, int[] crossAttentionDim,
        int[] transformerLayersPerBlock, int[] numAttentionHeads, boolean useLinearProjection,
        boolean upcastAttention, String additionEmbedType, int additionTimeEmbedDim,
        int projectionClassEmbeddingsInputDim, int sampleSize) {

    static final List<String> DOWN_TYPES = List.of("CrossAttnDownBlock2D", "DownBlock2D");
    static final List<String> UP_TYPES = List.of("CrossAttnUpBlock2D", "UpBlock2D");

    public static UNet2DConditionConfig read(Path configJson) throws IOException {
        return from(DiffusersConfig.read(configJson));
    }

    public static UNet2DConditionConfig from(DiffusersConfig c) {
        String cls = c.getString("_class_name", "UNet2DConditionModel");
        if (!cls.equals("UNet2DConditionModel")) {
            throw new ConfigException(c.source(), "_class_name", "= " + cls + ": not a UNet2DConditionModel config");
        }
        String[] down = c.getStrings("down_block_types",
                new String[] {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"});
        String[] up = c.getStrings("up_block_types",
                new String[] {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"});
        int n = down.length;
        for (String t : down) {
            if (!DOWN_TYPES.contains(t)) throw new ConfigException(c.source(), "down_block_types", "entry " + t + " is not implemented by sdj (supported: " + DOWN_TYPES + ")");
        }
        for (String t : up) {
            if (!UP_TYPES.contains(t)) throw new ConfigException(c.source(), "up_block_types", "entry " + t + " is not implemented by sdj (supported: " + UP_TYPES + ")");
        }
        if (up.length != n) throw new ConfigException(c.source(), "up_block_types", "has " + up.length + " entries but down_block_types has " + n);
        int[] channels = c.getInts("block_out_channels", new int[] {320, 640, 1280, 1280});
        if (channels.length != n) throw new ConfigException(c.source(), "block_out_channels", "has " + channels.length + " entries but there are " + n + " down blocks");

        // diffusers' naming quirk: attention_head_dim holds the number of heads unless num_attention_heads is given.
        int[] headDimOption = c.getIntPerBlock("attention_head_dim", n, 8);
        int[] heads = c.has("num_attention_heads") ? c.getIntPerBlock("num_attention_heads", n, null) : headDimOption;
        c.ignore("num_attention_heads");

        String additionEmbedType = c.getString("addition_embed_type", null);
        if (additionEmbedType != null && !additionEmbedType.equals("text_time")) {
            throw new ConfigException(c.source(), "addition_embed_type", "= " + additionEmbedType + " is not implemented by sdj (supported: text_time, null)");
        }
        int additionTimeEmbedDim = 0, projectionInputDim = 0;
        if (additionEmbedType != null) {
            additionTimeEmbedDim = c.getInt("addition_time_embed_dim", 0);
            projectionInputDim = c.getInt("projection_class_embeddings_input_dim", 0);
            if (additionTimeEmbedDim <= 0) throw new ConfigException(c.source(), "addition_time_embed_dim", "is required by addition_embed_type text_time");
            if (projectionInputDim <= 0) throw new ConfigException(c.source(), "projection_class_embeddings_input_dim", "is required by addition_embed_type text_time");
        } else {
            c.requireNull("addition_time_embed_dim");
            c.requireNull("projection_class_embeddings_input_dim");
        }
        c.ignore("addition_embed_type_num_heads"); // only used by addition_embed_type "text"

        UNet2DConditionConfig cfg = new UNet2DConditionConfig(
                c.getInt("in_channels", 4), c.getInt("out_channels", 4),
                c.getBool("flip_sin_to_cos", true), c.getInt("freq_shift", 0),
                down, up, channels, c.getInt("layers_per_block", 2), c.getInt("downsample_padding", 1),
                c.getInt("norm_num_groups", 32), (float) c.getDouble("norm_eps", 1e-5),
                c.getIntPerBlock("cross_attention_dim", n, 1280), c.getIntPerBlock("transformer_layers_per_block", n, 1),
                heads, c.getBool("use_linear_projection", false), c.getBool("upcast_attention", false),
                additionEmbedType, additionTimeEmbedDim, projectionInputDim, c.getInt("sample_size", 64));

        // Options sdj implements only at their SD value; anything else is rejected, never ignored.
        c.requireValue("mid_block_type", "UNetMidBlock2DCrossAttn");
        c.requireValue("act_fn", "silu");
        c.requireValue("center_input_sample", false);
        c.requireValue("mid_block_scale_factor", 1);
        c.requireValue("only_cross_attention", false);
        c.requireValue("dual_cross_attention", false);
        c.requireValue("class_embeddings_concat", false);
        c.requireValue("resnet_time_scale_shift", "default");
        c.requireValue("resnet_skip_time_act", false);
        c.requireValue("resnet_out_scale_factor", 1.0);
        c.requireValue("time_embedding_type", "positional");
        c.requireValue("conv_in_kernel", 3);
        c.requireValue("conv_out_kernel", 3);
        c.requireValue("attention_type", "default");
        for (String key : List.of("class_embed_type", "num_class_embeds", "encoder_hid_dim", "encoder_hid_dim_type",
                "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim",
                "cross_attention_norm", "mid_block_only_cross_attention", "reverse_transformer_layers_per_block")) {
            c.requireNull(key);
        }
        c.ignore("dropout"); // inference: no dropout
        c.rejectUnread();
        cfg.validate(c.source());
        return cfg;
    }

    private void validate(String source) {
        for (int i = 0; i < blockOutChannels.length; i++) {
            if (blockOutChannels[i] % normNumGroups != 0) {
                throw new ConfigException(source, "block_out_channels", "entry " + blockOutChannels[i] + " is not a multiple of norm_num_groups " + normNumGroups);
            }
            if (blockOutChannels[i] % numAttentionHeads[i] != 0) {
                throw new ConfigException(source, "attention_head_dim", "entry " + numAttentionHeads[i] + " (heads) does not divide block_out_channels " + blockOutChannels[i]);
            }
        }
    }

    /** This config with another in_channels (inpainting U-Nets take 9: latents, mask, masked-image latents). */
    public UNet2DConditionConfig withInChannels(int channels) {
        return new UNet2DConditionConfig(channels, outChannels, flipSinToCos, freqShift, downBlockTypes, upBlockTypes,
                blockOutChannels, layersPerBlock, downsamplePadding, normNumGroups, normEps, crossAttentionDim,
                transformerLayersPerBlock, numAttentionHeads, useLinearProjection, upcastAttention, additionEmbedType,
                additionTimeEmbedDim, projectionClassEmbeddingsInputDim, sampleSize);
    }

    /** Time embedding width: 4 × the first block's channels. */
    public int timeEmbedDim() {
        return blockOutChannels[0] * 4;
    }

    public int levels() {
        return blockOutChannels.length;
    }

    @Override
    public String toString() {
        return "UNet2DConditionConfig[channels " + Arrays.toString(blockOutChannels) + ", down " + Arrays.toString(downBlockTypes)
                + ", heads " + Arrays.toString(numAttentionHeads) + ", transformer layers " + Arrays.toString(transformerLayersPerBlock)
                + ", cross_attention_dim " + Arrays.toString(crossAttentionDim) + ", linear projection " + useLinearProjection
                + (additionEmbedType != null ? ", addition " + additionEmbedType : "") + "]";
    }
}
