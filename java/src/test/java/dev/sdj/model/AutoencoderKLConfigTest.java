package dev.sdj.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import java.io.InputStream;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AutoencoderKLConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest(name = "{0}")
    @CsvSource({"sd15, 0.18215, 512", "sd21, 0.18215, 768", "sdxl, 0.13025, 1024", "sdxl-refiner, 0.13025, 1024"})
    void builtinVaeConfigsParse(String name, float scalingFactor, int sampleSize) {
        AutoencoderKLConfig c = AutoencoderKLConfig.from(BuiltinConfigs.component(name, "vae"));
        assertArrayEquals(new int[] {128, 256, 512, 512}, c.blockOutChannels());
        assertEquals(2, c.layersPerBlock());
        assertEquals(4, c.latentChannels());
        assertEquals(32, c.normNumGroups());
        assertEquals(3, c.inChannels());
        assertEquals(3, c.outChannels());
        assertEquals(scalingFactor, c.scalingFactor());
        assertEquals(sampleSize, c.sampleSize());
        assertEquals(8, c.downscaleFactor());
    }

    @Test
    void emptyConfigGetsDiffusersDefaults() throws Exception {
        AutoencoderKLConfig c = AutoencoderKLConfig.from(DiffusersConfig.parse("test", "{}"));
        assertArrayEquals(new int[] {64}, c.blockOutChannels());
        assertArrayEquals(new String[] {"DownEncoderBlock2D"}, c.downBlockTypes());
        assertEquals(1, c.layersPerBlock());
        assertEquals(32, c.sampleSize());
        assertEquals(0.18215f, c.scalingFactor());
        assertTrue(c.forceUpcast());
    }

    @Test
    void laterDiffusersOptionsAreAcceptedAtTheirDefaults() throws Exception {
        AutoencoderKLConfig c = sd15With(o -> {
            o.put("use_quant_conv", true);
            o.put("use_post_quant_conv", true);
            o.put("mid_block_add_attention", true);
            o.putNull("latents_mean");
            o.putNull("latents_std");
            o.putNull("shift_factor");
        });
        assertEquals(4, c.latentChannels());
    }

    @Test
    void unknownOptionIsRejectedByName() {
        ConfigException e = assertThrows(ConfigException.class, () -> sd15With(o -> o.put("spatial_compression", 16)));
        assertTrue(e.getMessage().contains("spatial_compression"), e.getMessage());
    }

    @Test
    void unsupportedValuesAreRejectedByName() {
        assertRejected("act_fn", o -> o.put("act_fn", "relu"));
        assertRejected("down_block_types", o -> o.putArray("down_block_types").add("DownEncoderBlock2D").add("AttnDownEncoderBlock2D")
                .add("DownEncoderBlock2D").add("DownEncoderBlock2D"));
        assertRejected("up_block_types", o -> o.putArray("up_block_types").add("UpDecoderBlock2D"));
        assertRejected("block_out_channels", o -> o.putArray("block_out_channels").add(128).add(256).add(500).add(512));
        assertRejected("use_quant_conv", o -> o.put("use_quant_conv", false));
        assertRejected("mid_block_add_attention", o -> o.put("mid_block_add_attention", false));
        assertRejected("latents_mean", o -> o.putArray("latents_mean").add(0.1).add(0.2).add(0.3).add(0.4));
        assertRejected("_class_name", o -> o.put("_class_name", "AutoencoderTiny"));
    }

    /** The full-size SD1.5 VAE with random weights: the whole decoder runs and gives a finite 8× image. */
    @Test
    void fullSizeSd15DecodesASmallLatent() {
        AutoencoderKLConfig config = AutoencoderKLConfig.from(BuiltinConfigs.component("sd15", "vae"));
        try (Backend cpu = new CpuBackend(); AutoencoderKL vae = AutoencoderKL.random(config, cpu, 7)) {
            float[] z = new float[8 * 8 * 4];
            SplittableRandom rnd = new SplittableRandom(1);
            for (int i = 0; i < z.length; i++) z[i] = (float) (rnd.nextGaussian() / config.scalingFactor());
            Tensor image = cpu.download(vae.decode(cpu.upload(Tensor.of(z, Layout.NHWC, 1, 8, 8, 4))));
            assertArrayEquals(new int[] {1, 64, 64, 3}, image.shape());
            assertEquals(Layout.NHWC, image.layout());
            float[] px = image.toFloatArray();
            for (int i = 0; i < px.length; i++) assertTrue(Float.isFinite(px[i]), "pixel " + i + " is " + px[i]);

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> vae.decode(cpu.upload(Tensor.of(z, Layout.NCHW, 1, 4, 8, 8))));
            assertTrue(e.getMessage().contains("NHWC (B, H, W, 4)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> vae.encode(cpu.upload(Tensor.of(z, Layout.NHWC, 1, 8, 8, 4))));
            assertTrue(e.getMessage().contains("NHWC (B, H, W, 3)"), e.getMessage());
        }
    }

    private static void assertRejected(String option, Consumer<ObjectNode> edit) {
        ConfigException e = assertThrows(ConfigException.class, () -> sd15With(edit), option);
        assertTrue(e.getMessage().contains("'" + option + "'"), e.getMessage());
    }

    /** The built-in SD1.5 VAE config with {@code edit} applied. */
    private static AutoencoderKLConfig sd15With(Consumer<ObjectNode> edit) throws Exception {
        try (InputStream in = AutoencoderKLConfigTest.class.getResourceAsStream("/dev/sdj/configs/sd15/vae/config.json")) {
            ObjectNode o = (ObjectNode) JSON.readTree(in);
            edit.accept(o);
            return AutoencoderKLConfig.from(new DiffusersConfig("edited sd15 vae config", o));
        }
    }
}
