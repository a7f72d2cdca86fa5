package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.DiagonalGaussianDistribution;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tiny SD-topology VAE against diffusers' decode and encode outputs, at the tolerance cases.json gives (1e-4). */
class VaeGoldenTest {
    private static final double MAX_ABS = 1e-4;

    @Test
    void decodeMatchesDiffusers() throws Exception {
        Path dir = Golden.root().resolve("vae-tiny");
        try (Backend cpu = new CpuBackend();
             AutoencoderKL vae = AutoencoderKL.load(dir, cpu);
             SafeTensorsFile io = SafeTensorsFile.open(dir.resolve("decode.safetensors"))) {
            assertEquals(0.18215f, vae.scalingFactor());
            Tensor latent = cpu.nchwToNhwc(cpu.upload(io.tensor("latent", Layout.NCHW)));
            Tensor out = cpu.nhwcToNchw(vae.decode(latent));
            check("vae-tiny/decode output", io, "output", cpu.download(out));
        }
    }

    @Test
    void encodeMatchesDiffusers() throws Exception {
        Path dir = Golden.root().resolve("vae-tiny");
        try (Backend cpu = new CpuBackend();
             AutoencoderKL vae = AutoencoderKL.load(dir, cpu);
             SafeTensorsFile io = SafeTensorsFile.open(dir.resolve("encode.safetensors"))) {
            Tensor image = cpu.nchwToNhwc(cpu.upload(io.tensor("image", Layout.NCHW)));
            DiagonalGaussianDistribution posterior = vae.encode(image);
            Map<String, Tensor> got = Map.of("moments", posterior.moments(), "mean", posterior.mean(),
                    "logvar", posterior.logvar(), "std", posterior.std());
            for (String name : new String[] {"moments", "mean", "logvar", "std"}) {
                check("vae-tiny/encode " + name, io, name, cpu.download(cpu.nhwcToNchw(got.get(name))));
            }
            // sample = mean + std · noise: zero noise gives the mean (mode) exactly.
            Tensor zeros = cpu.upload(Tensor.zeros(DType.F32, Layout.NHWC, posterior.mean().shape()));
            assertArrayEquals(cpu.download(posterior.mode()).toFloatArray(), cpu.download(posterior.sample(cpu, zeros)).toFloatArray());
        }
    }

    /** Asserts against diffusers' fp32 output {@code key}; the distance to its fp64 reference is printed too. */
    private static void check(String what, SafeTensorsFile io, String key, Tensor got) throws Exception {
        Tensor expected = io.tensor(key);
        assertArrayEquals(expected.shape(), got.shape(), what + ": shape");
        double maxErr = maxAbs(expected, got);
        System.out.println(what + " max_abs " + maxErr + " (vs diffusers f64: " + maxAbs(io.tensor(key + "_f64"), got) + ")");
        assertTrue(maxErr <= MAX_ABS, what + ": max |got - diffusers| = " + maxErr);
    }

    private static double maxAbs(Tensor expected, Tensor got) {
        double max = 0;
        for (long i = 0; i < expected.numel(); i++) max = Math.max(max, Math.abs(expected.getDouble(i) - got.getFloat(i)));
        return max;
    }
}
