package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The first stages of diffusers' SD1.5 U-Net (time_proj, time_embedding, conv_in) built by hand
 * from the ops, on real golden weights and inputs, against the intermediates diffusers recorded:
 * safetensors → upload → layouts → ops, the path every model will take.
 */
class OpsAgainstDiffusersTest {
    /** Measured: 6e-8 (time_proj, time_embedding), 0 (conv_in); fp32 summation-order noise stays far below. */
    private static final double TOL = 1e-6;

    @Test
    void timeProjTimeEmbeddingAndConvInMatchDiffusers() throws IOException {
        Path dir = Golden.root().resolve("unet-sd15-tiny");
        try (SafeTensorsFile weights = SafeTensorsFile.open(dir.resolve("diffusion_pytorch_model.safetensors"));
             SafeTensorsFile io = SafeTensorsFile.open(dir.resolve("case-t981.safetensors"));
             Backend cpu = new CpuBackend()) {
            int batch = io.info("sample").shape()[0];
            float t = io.tensor("timestep").getFloat(0);
            assertEquals(981f, t);

            // time_proj: Timesteps(16, flip_sin_to_cos=True, downscale_freq_shift=0), as config.json says.
            float[] ts = new float[batch];
            java.util.Arrays.fill(ts, t);
            Tensor tProj = cpu.timestepEmbedding(ts, 16, true, 0f, 1f, 10000f);
            assertClose("time_proj", io.tensor("intermediate.time_proj"), tProj);

            // time_embedding: linear_1 → SiLU → linear_2.
            Tensor h = cpu.linear(tProj, cpu.upload(weights.tensor("time_embedding.linear_1.weight")),
                    cpu.upload(weights.tensor("time_embedding.linear_1.bias")));
            Tensor emb = cpu.linear(cpu.silu(h), cpu.upload(weights.tensor("time_embedding.linear_2.weight")),
                    cpu.upload(weights.tensor("time_embedding.linear_2.bias")));
            assertClose("time_embedding", io.tensor("intermediate.time_embedding"), emb);

            // conv_in: 3×3, padding 1, on the NCHW sample brought to NHWC, weights OIHW → OHWI.
            Tensor x = cpu.nchwToNhwc(cpu.upload(io.tensor("sample", Layout.NCHW)));
            Tensor convIn = cpu.conv2d(x, cpu.convWeight(cpu.upload(weights.tensor("conv_in.weight", Layout.OIHW))),
                    cpu.upload(weights.tensor("conv_in.bias")), 1, 1);
            Tensor got = cpu.nhwcToNchw(convIn);
            assertArrayEquals(io.info("intermediate.conv_in").shape(), got.shape());
            assertClose("conv_in", io.tensor("intermediate.conv_in"), got);
        }
    }

    private static void assertClose(String what, Tensor expected, Tensor got) {
        assertArrayEquals(expected.shape(), got.shape(), what + " shape");
        float[] e = expected.toFloatArray(), g = got.toFloatArray();
        double maxErr = 0, maxRef = 0;
        for (int i = 0; i < e.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(e[i] - g[i]));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
        }
        assertTrue(maxRef > 0.1, what + ": reference suspiciously small, max |ref| = " + maxRef);
        assertTrue(maxErr <= TOL * Math.max(1, maxRef), what + ": max |got - diffusers| = " + maxErr + " (max |ref| " + maxRef + ")");
    }
}
