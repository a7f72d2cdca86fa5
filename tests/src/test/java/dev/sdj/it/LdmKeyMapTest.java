package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.io.checkpoint.LdmKeyMap;
import dev.sdj.io.checkpoint.LdmKeyMap.Source;
import dev.sdj.io.checkpoint.LdmKeyMap.View;
import dev.sdj.model.AutoencoderKLConfig;
import dev.sdj.model.BuiltinConfigs;
import dev.sdj.model.ParameterShapes;
import dev.sdj.model.UNet2DConditionConfig;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The diffusers ↔ LDM names against tests/golden/checkpoint-ldm/key-map.json (every U-Net and VAE
 * entry, both directions), round trips over the full-size configs, and the text encoders' names.
 */
class LdmKeyMapTest {

    private static Map<String, String> keyMap(String section) throws Exception {
        JsonNode root = new ObjectMapper().readTree(Golden.root().resolve("checkpoint-ldm/key-map.json").toFile());
        JsonNode s = root.get(section + " (diffusers name -> LDM name)");
        Map<String, String> out = new LinkedHashMap<>();
        s.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    @Test
    void unetBothWaysForEveryKeyMapEntry() throws Exception {
        UNet2DConditionConfig config = UNet2DConditionConfig.read(Golden.root().resolve("unet-sd15-tiny/config.json"));
        LdmKeyMap map = LdmKeyMap.unet(config);
        Map<String, String> expected = keyMap("unet");
        assertEquals(684, expected.size());
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Source s = map.toLdm(e.getKey());
            assertNotNull(s, e.getKey());
            assertEquals(e.getValue(), s.key(), e.getKey());
            assertEquals(View.AS_IS, s.view(), e.getKey());
            assertEquals(List.of(e.getKey()), map.toDiffusers(e.getValue()), e.getValue());
        }
        // The key map covers exactly the parameters the model asks for.
        assertEquals(expected.keySet(), ParameterShapes.unet(config).keySet());
    }

    @Test
    void vaeBothWaysForEveryKeyMapEntry() throws Exception {
        AutoencoderKLConfig config = AutoencoderKLConfig.read(Golden.root().resolve("vae-tiny/config.json"));
        LdmKeyMap map = LdmKeyMap.vae(config);
        Map<String, String> expected = keyMap("vae");
        assertEquals(244, expected.size());
        int squeezed = 0;
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Source s = map.toLdm(e.getKey());
            assertNotNull(s, e.getKey());
            assertEquals(e.getValue(), s.key(), e.getKey());
            assertEquals(List.of(e.getKey()), map.toDiffusers(e.getValue()), e.getValue());
            // q/k/v/proj_out weights of both mid attentions are 1x1 convs in LDM, Linear in diffusers
            boolean attnWeight = e.getKey().contains("mid_block.attentions.0.to_") && e.getKey().endsWith(".weight");
            assertEquals(attnWeight ? View.SQUEEZE_1X1 : View.AS_IS, s.view(), e.getKey());
            if (attnWeight) squeezed++;
        }
        assertEquals(8, squeezed);
        assertEquals(expected.keySet(), ParameterShapes.vae(config).keySet());
    }

    /** Every parameter of the full-size U-Nets maps to a distinct key and back; spot checks of the SDXL layouts. */
    @Test
    void fullSizeUNetsRoundTrip() {
        for (String name : BuiltinConfigs.NAMES) {
            UNet2DConditionConfig config = BuiltinConfigs.unet(name);
            LdmKeyMap map = LdmKeyMap.unet(config);
            Set<String> keys = new HashSet<>();
            for (String p : ParameterShapes.unet(config).keySet()) {
                Source s = map.toLdm(p);
                assertNotNull(s, name + " " + p);
                assertTrue(s.key().startsWith("model.diffusion_model."), s.key());
                assertTrue(keys.add(s.key()), name + ": two parameters on " + s.key());
                assertEquals(List.of(p), map.toDiffusers(s.key()), name + " " + s.key());
            }
        }
        LdmKeyMap xl = LdmKeyMap.unet(BuiltinConfigs.unet("sdxl"));
        assertEquals("model.diffusion_model.label_emb.0.0.weight", xl.toLdm("add_embedding.linear_1.weight").key());
        assertEquals("model.diffusion_model.label_emb.0.2.bias", xl.toLdm("add_embedding.linear_2.bias").key());
        // SDXL level 0 has no attention: its resnets at input_blocks.1/2 .0, the downsampler at 3.0.op
        assertEquals("model.diffusion_model.input_blocks.3.0.op.weight", xl.toLdm("down_blocks.0.downsamplers.0.conv.weight").key());
        assertEquals("model.diffusion_model.input_blocks.7.1.transformer_blocks.9.ff.net.2.weight",
                xl.toLdm("down_blocks.2.attentions.0.transformer_blocks.9.ff.net.2.weight").key());
        // an up level with attention has its upsampler at .2; the refiner's up level 0 has none: at .1
        assertEquals("model.diffusion_model.output_blocks.2.2.conv.weight", xl.toLdm("up_blocks.0.upsamplers.0.conv.weight").key());
        LdmKeyMap refiner = LdmKeyMap.unet(BuiltinConfigs.unet("sdxl-refiner"));
        assertEquals("model.diffusion_model.output_blocks.2.1.conv.weight", refiner.toLdm("up_blocks.0.upsamplers.0.conv.weight").key());
        assertNull(refiner.toLdm("down_blocks.0.attentions.0.norm.weight"));
        assertEquals(List.of(), refiner.toDiffusers("model.diffusion_model.input_blocks.1.1.norm.weight"));
        assertEquals(List.of(), refiner.toDiffusers("first_stage_model.encoder.conv_in.weight"));
    }

    @Test
    void clipTextEncoderKeepsDiffusersNamesUnderItsPrefix() {
        LdmKeyMap sd1 = LdmKeyMap.clip("cond_stage_model.transformer.", true);
        LdmKeyMap old = LdmKeyMap.clip("cond_stage_model.transformer.", false);
        LdmKeyMap xl = LdmKeyMap.clip("conditioner.embedders.0.transformer.", true);
        for (String n : LdmKeyMap.clipTextEncoderNames(12, false)) {
            assertEquals("cond_stage_model.transformer." + n, sd1.toLdm(n).key());
            assertEquals(List.of(n), sd1.toDiffusers("cond_stage_model.transformer." + n));
            assertEquals(List.of(n), old.toDiffusers(old.toLdm(n).key()));
            assertEquals(List.of(n), xl.toDiffusers(xl.toLdm(n).key()));
        }
        assertEquals("cond_stage_model.transformer.embeddings.token_embedding.weight",
                old.toLdm("text_model.embeddings.token_embedding.weight").key());
        assertEquals("conditioner.embedders.0.transformer.text_model.encoder.layers.11.mlp.fc2.bias",
                xl.toLdm("text_model.encoder.layers.11.mlp.fc2.bias").key());
    }

    @Test
    void openClipRenamesAndSplitsInProj() {
        LdmKeyMap sd2 = LdmKeyMap.openClip("cond_stage_model.model.");
        String p = "cond_stage_model.model.";
        Map<String, Source> expected = new LinkedHashMap<>();
        expected.put("text_model.embeddings.token_embedding.weight", new Source(p + "token_embedding.weight", View.AS_IS, 0));
        expected.put("text_model.embeddings.position_embedding.weight", new Source(p + "positional_embedding", View.AS_IS, 0));
        expected.put("text_model.final_layer_norm.weight", new Source(p + "ln_final.weight", View.AS_IS, 0));
        expected.put("text_model.final_layer_norm.bias", new Source(p + "ln_final.bias", View.AS_IS, 0));
        expected.put("text_projection.weight", new Source(p + "text_projection", View.TRANSPOSED, 0));
        String l = "text_model.encoder.layers.22.", r = p + "transformer.resblocks.22.";
        expected.put(l + "self_attn.q_proj.weight", new Source(r + "attn.in_proj_weight", View.THIRD, 0));
        expected.put(l + "self_attn.k_proj.weight", new Source(r + "attn.in_proj_weight", View.THIRD, 1));
        expected.put(l + "self_attn.v_proj.weight", new Source(r + "attn.in_proj_weight", View.THIRD, 2));
        expected.put(l + "self_attn.q_proj.bias", new Source(r + "attn.in_proj_bias", View.THIRD, 0));
        expected.put(l + "self_attn.k_proj.bias", new Source(r + "attn.in_proj_bias", View.THIRD, 1));
        expected.put(l + "self_attn.v_proj.bias", new Source(r + "attn.in_proj_bias", View.THIRD, 2));
        expected.put(l + "self_attn.out_proj.weight", new Source(r + "attn.out_proj.weight", View.AS_IS, 0));
        expected.put(l + "self_attn.out_proj.bias", new Source(r + "attn.out_proj.bias", View.AS_IS, 0));
        expected.put(l + "layer_norm1.weight", new Source(r + "ln_1.weight", View.AS_IS, 0));
        expected.put(l + "layer_norm2.bias", new Source(r + "ln_2.bias", View.AS_IS, 0));
        expected.put(l + "mlp.fc1.weight", new Source(r + "mlp.c_fc.weight", View.AS_IS, 0));
        expected.put(l + "mlp.fc2.bias", new Source(r + "mlp.c_proj.bias", View.AS_IS, 0));
        expected.forEach((d, s) -> assertEquals(s, sd2.toLdm(d), d));
        assertEquals(List.of(l + "self_attn.q_proj.weight", l + "self_attn.k_proj.weight", l + "self_attn.v_proj.weight"),
                sd2.toDiffusers(r + "attn.in_proj_weight"));
        assertEquals(List.of(l + "self_attn.q_proj.bias", l + "self_attn.k_proj.bias", l + "self_attn.v_proj.bias"),
                sd2.toDiffusers(r + "attn.in_proj_bias"));

        // Every name of bigG (32 layers, with projection) maps and comes back; in_proj holds three names.
        LdmKeyMap bigG = LdmKeyMap.openClip("conditioner.embedders.1.model.");
        Set<String> keys = new HashSet<>();
        for (String n : LdmKeyMap.clipTextEncoderNames(32, true)) {
            Source s = bigG.toLdm(n);
            assertNotNull(s, n);
            keys.add(s.key());
            assertTrue(bigG.toDiffusers(s.key()).contains(n), n);
        }
        assertEquals(5 + 32 * 12, keys.size()); // 16 names per layer on 12 tensors (q/k/v fused, weight and bias)
        assertEquals(List.of(), bigG.toDiffusers("conditioner.embedders.1.model.logit_scale"));
        assertNotNull(LdmKeyMap.ignoredReason("conditioner.embedders.1.model.logit_scale"));
        assertNotNull(LdmKeyMap.ignoredReason("alphas_cumprod"));
        assertNull(LdmKeyMap.ignoredReason("model.diffusion_model.out.0.weight"));
    }
}
