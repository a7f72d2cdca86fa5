package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.UNet2DConditionModel;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The three tiny U-Nets against diffusers' outputs, at the tolerance cases.json gives (1e-4). */
class UNetGoldenTest {

    @ParameterizedTest(name = "{0}/{1}")
    @CsvSource({"unet-sd15-tiny, case-t981", "unet-sd15-tiny, case-t1", "unet-sd15-tiny, case-b1-10x14-t500",
            "unet-sd2-tiny, case-t981", "unet-sd2-tiny, case-t1", "unet-sdxl-tiny, case-t981", "unet-sdxl-tiny, case-t1"})
    void matchesDiffusers(String model, String kase) throws Exception {
        Path dir = Golden.root().resolve(model);
        try (Backend cpu = new CpuBackend();
             UNet2DConditionModel unet = UNet2DConditionModel.load(dir, cpu);
             SafeTensorsFile io = SafeTensorsFile.open(dir.resolve(kase + ".safetensors"))) {
            Tensor sample = cpu.nchwToNhwc(cpu.upload(io.tensor("sample", Layout.NCHW)));
            float t = io.tensor("timestep").getFloat(0);
            AddedConditions added = io.contains("text_embeds")
                    ? new AddedConditions(cpu.upload(io.tensor("text_embeds")), cpu.upload(io.tensor("time_ids"))) : null;
            Tensor out = cpu.nhwcToNchw(unet.forward(sample, new float[] {t}, cpu.upload(io.tensor("encoder_hidden_states")), added));
            Tensor expected = io.tensor("output");
            assertArrayEquals(expected.shape(), out.shape());
            float[] e = expected.toFloatArray(), g = out.toFloatArray();
            double maxErr = 0;
            for (int i = 0; i < e.length; i++) maxErr = Math.max(maxErr, Math.abs(e[i] - g[i]));
            System.out.println(model + "/" + kase + " max_abs " + maxErr);
            assertTrue(maxErr <= 1e-4, model + "/" + kase + ": max |got - diffusers| = " + maxErr);
        }
    }
}
