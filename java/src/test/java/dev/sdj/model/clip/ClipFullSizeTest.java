package dev.sdj.model.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Tensor;
import dev.sdj.model.RandomWeights;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real text encoders' configs: parameter counts (by construction, the model's own
 * constructor noting what it asks for), and each builds with random weights and encodes a prompt.
 * Counts: CLIP ViT-L text 123,060,480 (embeddings 38,004,480 + 12 × 7,087,872 + final norm);
 * OpenCLIP ViT-H text with 23 layers 340,387,840; bigG with its 1280 × 1280 projection 694,659,840.
 */
class ClipFullSizeTest {

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"sd15, text_encoder, 123060480", "sd21, text_encoder, 340387840", "sdxl, text_encoder_2, 694659840",
            "sdxl, text_encoder, 123060480", "sdxl-refiner, text_encoder_2, 694659840"})
    void parameterCounts(String model, String component, long count) {
        CLIPTextConfig c = CLIPTextConfig.builtin(model, component);
        assertEquals(count, CLIPTextModel.parameterCount(c));
        Map<String, int[]> shapes = CLIPTextModel.parameterShapes(c);
        int d = c.hiddenSize();
        assertArrayEquals(new int[] {49408, d}, shapes.get("text_model.embeddings.token_embedding.weight"));
        assertArrayEquals(new int[] {77, d}, shapes.get("text_model.embeddings.position_embedding.weight"));
        String last = "text_model.encoder.layers." + (c.numHiddenLayers() - 1) + ".";
        assertArrayEquals(new int[] {c.intermediateSize(), d}, shapes.get(last + "mlp.fc1.weight"));
        assertArrayEquals(new int[] {d, d}, shapes.get(last + "self_attn.q_proj.weight"));
        assertEquals(c.withProjection(), shapes.containsKey("text_projection.weight"));
        assertEquals(4 + 16 * c.numHiddenLayers() + (c.withProjection() ? 1 : 0), shapes.size());
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"sd15, text_encoder", "sd21, text_encoder", "sdxl, text_encoder_2"})
    void buildsWithRandomWeightsAndEncodes(String model, String component) {
        CLIPTextConfig c = CLIPTextConfig.builtin(model, component);
        RandomWeights w = new RandomWeights(3);
        try (Backend cpu = new CpuBackend(); CLIPTextModel te = new CLIPTextModel(c, w, cpu)) { // te closes w
            assertEquals(CLIPTextModel.parameterCount(c) * Float.BYTES, w.bytes());
            int[][] ids = {{49406, 320, 1125, 539, 320, 2368, 49407, 49407}};
            CLIPTextModel.Output o = te.forward(ids);
            int d = c.hiddenSize();
            assertArrayEquals(new int[] {1, 8, d}, o.lastHiddenState().shape());
            assertArrayEquals(new int[] {1, d}, o.pooledOutput().shape());
            assertEquals(c.numHiddenLayers() + 1, o.hiddenStates().size());
            if (c.withProjection()) assertArrayEquals(new int[] {1, c.projectionDim()}, o.textEmbeds().shape());
            else assertNull(o.textEmbeds());
            for (Tensor t : new Tensor[] {o.lastHiddenState(), o.penultimate(), o.pooledOutput()}) {
                for (float v : t.toFloatArray()) assertTrue(Float.isFinite(v), model + " " + component + ": non-finite output");
            }
        }
    }
}
