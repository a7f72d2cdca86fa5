package dev.sdj.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UNet2DConditionConfigTest {

    private static UNet2DConditionConfig parse(String json) throws Exception {
        return UNet2DConditionConfig.from(DiffusersConfig.parse("test-config.json", json));
    }

    @Test
    void sd15DefaultsFollowDiffusers() {
        UNet2DConditionConfig c = BuiltinConfigs.unet("sd15");
        assertArrayEquals(new int[] {320, 640, 1280, 1280}, c.blockOutChannels());
        // SD1's attention_head_dim 8 means 8 heads (diffusers' naming quirk).
        assertArrayEquals(new int[] {8, 8, 8, 8}, c.numAttentionHeads());
        assertArrayEquals(new int[] {768, 768, 768, 768}, c.crossAttentionDim());
        assertArrayEquals(new int[] {1, 1, 1, 1}, c.transformerLayersPerBlock());
        assertFalse(c.useLinearProjection());
        assertNull(c.additionEmbedType());
        assertEquals(1280, c.timeEmbedDim());
    }

    @Test
    void sd21AndSdxlPerBlockOptions() {
        UNet2DConditionConfig sd21 = BuiltinConfigs.unet("sd21");
        assertArrayEquals(new int[] {5, 10, 20, 20}, sd21.numAttentionHeads());
        assertTrue(sd21.useLinearProjection());
        assertTrue(sd21.upcastAttention());
        UNet2DConditionConfig xl = BuiltinConfigs.unet("sdxl");
        assertArrayEquals(new int[] {1, 2, 10}, xl.transformerLayersPerBlock());
        assertEquals("text_time", xl.additionEmbedType());
        assertEquals(2816, xl.projectionClassEmbeddingsInputDim());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "\"class_embed_type\": \"timestep\"|class_embed_type",
            "\"resnet_time_scale_shift\": \"scale_shift\"|resnet_time_scale_shift",
            "\"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"|mid_block_type",
            "\"only_cross_attention\": true|only_cross_attention",
            "\"addition_embed_type\": \"text\"|addition_embed_type",
            "\"time_cond_proj_dim\": 256|time_cond_proj_dim",
            "\"some_future_option\": 1|some_future_option",
            "\"down_block_types\": [\"SimpleCrossAttnDownBlock2D\"]|down_block_types"})
    void unimplementedOptionIsRejectedByName(String option, String name) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{" + option + "}"));
        assertTrue(e.getMessage().contains("'" + name + "'"), e.getMessage());
        assertTrue(e.getMessage().startsWith("test-config.json"), e.getMessage());
    }

    @Test
    void perBlockListOfWrongLengthIsRejected() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"attention_head_dim\": [8, 8]}"));
        assertTrue(e.getMessage().contains("'attention_head_dim'") && e.getMessage().contains("4 blocks"), e.getMessage());
    }

    @Test
    void headsMustDivideChannels() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"attention_head_dim\": 7}"));
        assertTrue(e.getMessage().contains("'attention_head_dim'"), e.getMessage());
    }

    @Test
    void textTimeNeedsItsDimensions() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"addition_embed_type\": \"text_time\"}"));
        assertTrue(e.getMessage().contains("'addition_time_embed_dim'"), e.getMessage());
    }
}
