package dev.sdj.model.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sdj.model.ConfigException;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClipTextConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Path TINY = Path.of("..", "tests", "golden", "clip", "text-encoder-tiny");

    @Test
    void tinyGoldenConfigParses() throws Exception {
        CLIPTextConfig c = CLIPTextConfig.read(TINY.resolve("config.json"));
        assertEquals(48, c.hiddenSize());
        assertEquals(2, c.numHiddenLayers());
        assertEquals(4, c.numAttentionHeads());
        assertEquals(12, c.headDim());
        assertEquals(192, c.intermediateSize());
        assertEquals("quick_gelu", c.hiddenAct());
        assertEquals(49408, c.vocabSize());
        assertEquals(77, c.maxPositionEmbeddings());
        assertEquals(1e-5f, c.layerNormEps());
        assertEquals(32, c.projectionDim());
        assertEquals(2, c.eosTokenId());
        assertFalse(c.withProjection());
        assertTrue(c.withProjection(true).withProjection());
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "sd15, text_encoder, 768, 12, 12, 3072, quick_gelu, false",
            "sdxl, text_encoder, 768, 12, 12, 3072, quick_gelu, false",
            "sd21, text_encoder, 1024, 23, 16, 4096, gelu, false",
            "sdxl, text_encoder_2, 1280, 32, 20, 5120, gelu, true",
            "sdxl-refiner, text_encoder_2, 1280, 32, 20, 5120, gelu, true"})
    void builtinConfigs(String model, String component, int hidden, int layers, int heads, int mlp, String act, boolean projection) {
        CLIPTextConfig c = CLIPTextConfig.builtin(model, component);
        assertEquals(hidden, c.hiddenSize());
        assertEquals(layers, c.numHiddenLayers());
        assertEquals(heads, c.numAttentionHeads());
        assertEquals(mlp, c.intermediateSize());
        assertEquals(act, c.hiddenAct());
        assertEquals(projection, c.withProjection());
        assertEquals(77, c.maxPositionEmbeddings());
        assertEquals(49408, c.vocabSize());
        assertEquals(2, c.eosTokenId()); // diffusers' configs: the legacy argmax pooling
    }

    @Test
    void namedRealEncoders() {
        assertEquals(CLIPTextConfig.builtin("sd15", "text_encoder"), CLIPTextConfig.clipVitL());
        assertEquals(CLIPTextConfig.builtin("sd21", "text_encoder"), CLIPTextConfig.openClipVitH());
        assertEquals(CLIPTextConfig.builtin("sdxl", "text_encoder_2"), CLIPTextConfig.openClipBigG());
        assertEquals(768, CLIPTextConfig.clipVitL().projectionDim());
        assertEquals(1280, CLIPTextConfig.openClipBigG().projectionDim());
    }

    @Test
    void emptyConfigGetsTransformersDefaults() throws Exception {
        CLIPTextConfig c = CLIPTextConfig.parse("test", "{}");
        assertEquals(512, c.hiddenSize());
        assertEquals(2048, c.intermediateSize());
        assertEquals(12, c.numHiddenLayers());
        assertEquals(8, c.numAttentionHeads());
        assertEquals(77, c.maxPositionEmbeddings());
        assertEquals("quick_gelu", c.hiddenAct());
        assertEquals(49407, c.eosTokenId());
        assertFalse(c.withProjection());
    }

    @Test
    void inferenceIrrelevantOptionsAreAccepted() throws Exception {
        CLIPTextConfig c = tinyWith(o -> {
            o.put("transformers_version", "4.36.0");
            o.put("dropout", 0.1);
            o.put("attention_dropout", 0.1);
            o.put("is_decoder", false);
        });
        assertEquals(48, c.hiddenSize());
    }

    @Test
    void unimplementedOptionsAreRejectedByName() {
        assertRejected(o -> o.put("hidden_act", "relu"), "hidden_act");
        assertRejected(o -> o.put("hidden_act", "gelu_new"), "hidden_act");
        assertRejected(o -> o.put("model_type", "clip_vision_model"), "model_type");
        assertRejected(o -> o.putArray("architectures").add("CLIPVisionModel"), "architectures");
        assertRejected(o -> o.putArray("architectures").add("CLIPTextModel").add("CLIPTextModelWithProjection"), "architectures");
        assertRejected(o -> o.put("position_embedding_type", "rotary"), "position_embedding_type");
        assertRejected(o -> o.put("is_decoder", true), "is_decoder");
        assertRejected(o -> o.put("num_attention_heads", 5), "num_attention_heads");
        assertRejected(o -> o.put("hidden_size", 0), "hidden_size");
        assertRejected(o -> o.put("num_hidden_layers", "two"), "num_hidden_layers");
    }

    @Test
    void withProjectionFromArchitecture() throws Exception {
        CLIPTextConfig c = tinyWith(o -> o.putArray("architectures").add("CLIPTextModelWithProjection"));
        assertTrue(c.withProjection());
    }

    private static void assertRejected(Consumer<ObjectNode> edit, String option) {
        ConfigException e = assertThrows(ConfigException.class, () -> tinyWith(edit));
        assertTrue(e.getMessage().contains("'" + option + "'"), e.getMessage());
    }

    private static CLIPTextConfig tinyWith(Consumer<ObjectNode> edit) throws Exception {
        ObjectNode o = (ObjectNode) JSON.readTree(TINY.resolve("config.json").toFile());
        edit.accept(o);
        return CLIPTextConfig.parse("edited tiny config", JSON.writeValueAsString(o));
    }
}
