package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.SafeTensorsWriter;
import dev.sdj.model.ConfigException;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.model.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A U-Net folder whose weights do not fit its config fails with the file and the tensor named. */
class UNetWeightsErrorsTest {
    private static final String FILE = "diffusion_pytorch_model.safetensors";

    /** A copy of unet-sd15-tiny with its tensors edited. */
    private static Path copy(Path dir, Consumer<Map<String, Tensor>> edit) throws IOException {
        Path src = Golden.root().resolve("unet-sd15-tiny");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        try (SafeTensorsFile st = SafeTensorsFile.open(src.resolve(FILE))) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String n : st.names()) tensors.put(n, st.tensor(n).toF32());
            edit.accept(tensors);
            SafeTensorsWriter.write(dir.resolve(FILE), tensors, null);
        }
        return dir;
    }

    @Test
    void missingTensor(@TempDir Path dir) throws IOException {
        copy(dir, t -> t.remove("down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"));
        WeightsException e = assertThrows(WeightsException.class, () -> UNet2DConditionModel.load(dir, new CpuBackend()));
        assertTrue(e.getMessage().contains(FILE) && e.getMessage().contains("attn2.to_k.weight") && e.getMessage().contains("missing"),
                e.getMessage());
    }

    @Test
    void wrongShape(@TempDir Path dir) throws IOException {
        copy(dir, t -> t.put("conv_in.weight", Tensor.of(new float[16 * 4 * 3 * 3 * 2], 32, 4, 3, 3)));
        WeightsException e = assertThrows(WeightsException.class, () -> UNet2DConditionModel.load(dir, new CpuBackend()));
        assertTrue(e.getMessage().contains("conv_in.weight") && e.getMessage().contains("[32, 4, 3, 3]")
                && e.getMessage().contains("[16, 4, 3, 3]"), e.getMessage());
    }

    @Test
    void unexpectedTensor(@TempDir Path dir) throws IOException {
        copy(dir, t -> t.put("down_blocks.9.resnets.0.conv1.weight", Tensor.of(new float[4], 4)));
        WeightsException e = assertThrows(WeightsException.class, () -> UNet2DConditionModel.load(dir, new CpuBackend()));
        assertTrue(e.getMessage().contains("down_blocks.9.resnets.0.conv1.weight") && e.getMessage().contains("config.json"),
                e.getMessage());
    }

    @Test
    void unimplementedConfigOption(@TempDir Path dir) throws IOException {
        copy(dir, t -> {});
        String json = Files.readString(dir.resolve("config.json")).replace("\"class_embed_type\": null", "\"class_embed_type\": \"projection\"");
        Files.writeString(dir.resolve("config.json"), json);
        ConfigException e = assertThrows(ConfigException.class, () -> UNet2DConditionModel.load(dir, new CpuBackend()));
        assertTrue(e.getMessage().contains("'class_embed_type'") && e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void wrongInputShapesAreNamed() throws IOException {
        try (CpuBackend cpu = new CpuBackend(); UNet2DConditionModel unet = UNet2DConditionModel.load(Golden.root().resolve("unet-sd15-tiny"), cpu)) {
            Tensor sample = Tensor.of(new float[2 * 8 * 8 * 4], dev.sdj.core.Layout.NHWC, 2, 8, 8, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, new float[] {1}, Tensor.of(new float[2 * 3 * 64], 2, 3, 64), null));
            assertTrue(e.getMessage().contains("encoder_hidden_states") && e.getMessage().contains("48"), e.getMessage());
            IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample.withLayout(dev.sdj.core.Layout.NCHW), new float[] {1}, Tensor.of(new float[2 * 3 * 48], 2, 3, 48), null));
            assertTrue(e2.getMessage().contains("NHWC"), e2.getMessage());
        }
    }
}
