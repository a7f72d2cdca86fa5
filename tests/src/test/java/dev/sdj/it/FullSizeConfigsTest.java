package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.BuiltinConfigs;
import dev.sdj.model.RandomWeights;
import dev.sdj.model.UNet2DConditionConfig;
import dev.sdj.model.UNet2DConditionModel;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The full-size SD1.5, SD2.1, SDXL base and refiner U-Nets build from their diffusers configs with
 * random weights, hold exactly the parameter count diffusers reports for them (shared/configs'
 * README), and run a forward at a small latent.
 */
class FullSizeConfigsTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"sd15, 859520964, 0", "sd21, 865910724, 0", "sdxl, 2567463684, 6", "sdxl-refiner, 2259526660, 5"})
    void buildsWithDiffusersParameterCountAndRuns(String name, long parameters, int timeIds) {
        UNet2DConditionConfig config = BuiltinConfigs.unet(name);
        try (Backend cpu = new CpuBackend(); RandomWeights weights = new RandomWeights(7)) {
            UNet2DConditionModel unet = new UNet2DConditionModel(config, weights, cpu);
            assertEquals(parameters * Float.BYTES, weights.bytes(), name + " parameter count (bytes of fp32 weights)");

            SplittableRandom rnd = new SplittableRandom(1);
            int batch = 1, h = 8, w = 8, tokens = 3, cross = config.crossAttentionDim()[0];
            Tensor sample = Tensor.of(random(rnd, batch * h * w * 4), Layout.NHWC, batch, h, w, 4);
            Tensor ehs = Tensor.of(random(rnd, batch * tokens * cross), batch, tokens, cross);
            AddedConditions added = null;
            if (timeIds > 0) {
                int pooled = config.projectionClassEmbeddingsInputDim() - timeIds * config.additionTimeEmbedDim();
                float[] ids = new float[batch * timeIds];
                for (int i = 0; i < ids.length; i++) ids[i] = i % 2 == 0 ? 1024 : 0;
                added = new AddedConditions(Tensor.of(random(rnd, batch * pooled), batch, pooled), Tensor.of(ids, batch, timeIds));
            }
            Tensor out = unet.forward(sample, new float[] {500}, ehs, added);
            assertArrayEquals(new int[] {batch, h, w, config.outChannels()}, out.shape());
            double sumSq = 0;
            for (float v : out.toFloatArray()) {
                assertTrue(Float.isFinite(v), name + ": non-finite output");
                sumSq += v * v;
            }
            assertTrue(sumSq > 0, name + ": all-zero output");
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextDouble() * 2 - 1);
        return v;
    }
}
