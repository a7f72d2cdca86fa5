package dev.sdj.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The options of diffusers' AutoencoderKL (v0.24), with diffusers' defaults for what a config
 * leaves out. Any other option, or a value sdj does not implement, is rejected by {@link #from}.
 * force_upcast only tells fp16 pipelines to run the VAE in fp32; the CPU backend always does.
 */
public record AutoencoderKLConfig(
        int inChannels, int outChannels, String[] downBlockTypes, String[] upBlockTypes, int[] blockOutChannels,
        int layersPerBlock, int latentChannels, int normNumGroups, int sampleSize, float scalingFactor,
        boolean forceUpcast) {

    static final String DOWN_TYPE = "DownEncoderBlock2D";
    static final String UP_TYPE = "UpDecoderBlock2D";

    public static AutoencoderKLConfig read(Path configJson) throws IOException {
        return from(DiffusersConfig.read(configJson));
    }

    public static AutoencoderKLConfig from(DiffusersConfig c) {
        String cls = c.getString("_class_name", "AutoencoderKL");
        if (!cls.equals("AutoencoderKL")) {
            throw new ConfigException(c.source(), "_class_name", "= " + cls + ": not an AutoencoderKL config");
        }
        String[] down = c.getStrings("down_block_types", new String[] {DOWN_TYPE});
        String[] up = c.getStrings("up_block_types", new String[] {UP_TYPE});
        for (String t : down) {
            if (!t.equals(DOWN_TYPE)) throw new ConfigException(c.source(), "down_block_types", "entry " + t + " is not implemented by sdj (supported: " + DOWN_TYPE + ")");
        }
        for (String t : up) {
            if (!t.equals(UP_TYPE)) throw new ConfigException(c.source(), "up_block_types", "entry " + t + " is not implemented by sdj (supported: " + UP_TYPE + ")");
        }
        int[] channels = c.getInts("block_out_channels", new int[] {64});

        AutoencoderKLConfig cfg = new AutoencoderKLConfig(
                c.getInt("in_channels", 3), c.getInt("out_channels", 3), down, up, channels,
                c.getInt("layers_per_block", 1), c.getInt("latent_channels", 4), c.getInt("norm_num_groups", 32),
                c.getInt("sample_size", 32), (float) c.getDouble("scaling_factor", 0.18215), c.getBool("force_upcast", true));

        c.requireValue("act_fn", "silu");
        // Options of later diffusers versions, accepted at the values that mean v0.24's model.
        c.requireValue("use_quant_conv", true);
        c.requireValue("use_post_quant_conv", true);
        c.requireValue("mid_block_add_attention", true);
        for (String key : List.of("latents_mean", "latents_std", "shift_factor")) c.requireNull(key);
        c.rejectUnread();
        cfg.validate(c.source());
        return cfg;
    }

    private void validate(String source) {
        int n = downBlockTypes.length;
        if (n == 0) throw new ConfigException(source, "down_block_types", "is empty");
        if (upBlockTypes.length != n) throw new ConfigException(source, "up_block_types", "has " + upBlockTypes.length + " entries but down_block_types has " + n);
        if (blockOutChannels.length != n) throw new ConfigException(source, "block_out_channels", "has " + blockOutChannels.length + " entries but there are " + n + " down blocks");
        for (int ch : blockOutChannels) {
            if (ch <= 0 || normNumGroups <= 0 || ch % normNumGroups != 0) {
                throw new ConfigException(source, "block_out_channels", "entry " + ch + " is not a positive multiple of norm_num_groups " + normNumGroups);
            }
        }
        if (layersPerBlock < 1) throw new ConfigException(source, "layers_per_block", "= " + layersPerBlock + " must be at least 1");
        if (inChannels < 1) throw new ConfigException(source, "in_channels", "= " + inChannels + " must be at least 1");
        if (outChannels < 1) throw new ConfigException(source, "out_channels", "= " + outChannels + " must be at least 1");
        if (latentChannels < 1) throw new ConfigException(source, "latent_channels", "= " + latentChannels + " must be at least 1");
    }

    /** How many times the encoder halves the image (one per down block but the last): 8 for SD. */
    public int downscaleFactor() {
        return 1 << (blockOutChannels.length - 1);
    }

    @Override
    public String toString() {
        return "AutoencoderKLConfig[channels " + Arrays.toString(blockOutChannels) + ", layers_per_block " + layersPerBlock
                + ", latent_channels " + latentChannels + ", groups " + normNumGroups + ", scaling_factor " + scalingFactor + "]";
    }
}
