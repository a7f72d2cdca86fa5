package dev.sdj.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.model.NoisePredictor;
import dev.sdj.rng.TorchCpuGenerator;
import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.Schedulers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The sampling loop itself against the scheduler goldens, with the golden README's stand-in model
 * in place of the U-Net: txt2img from x_T (stochastic samplers fed the recorded step noise),
 * img2img from the noised init latents; plus CFG, progress and cancellation.
 */
class DenoisingLoopTest {
    private static final Path GOLDEN = Path.of("..", "tests", "golden", "schedulers");
    private static final int[] SHAPE = {1, 4, 8, 8};
    private final Backend cpu = new CpuBackend();

    /** eps = tanh(0.5·x_in)·(0.3 + t/1000) in float32, on NHWC tensors (elementwise, so the layout does not matter). */
    private static NoisePredictor standIn(AtomicInteger batchSeen) {
        return (x, t, ctx, added) -> {
            batchSeen.set(x.dim(0));
            float[] in = x.toFloatArray(), out = new float[in.length];
            float scale = (float) (0.3 + (double) t[0] / 1000);
            for (int i = 0; i < in.length; i++) out[i] = (float) Math.tanh(0.5f * in[i]) * scale;
            return Tensor.of(out, Layout.NHWC, x.shape());
        };
    }

    private static Conditioning dummyConditioning() {
        return Conditioning.of(Tensor.of(new float[3], 1, 1, 3), Tensor.of(new float[3], 1, 1, 3));
    }

    /** x_T first, then the noise recorded inside each step (null: the step drew none, or an unused draw). */
    private static NoiseSource recorded(float[] xT, List<float[]> stepNoise) {
        return new NoiseSource() {
            int draws = -1;

            @Override
            public float[] randn(int... shape) {
                draws++;
                if (draws == 0) return xT.clone();
                float[] n = draws - 1 < stepNoise.size() ? stepNoise.get(draws - 1) : null;
                return n != null ? n : new float[xT.length];
            }
        };
    }

    private static double maxAbs(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @ParameterizedTest(name = "{0} {1} steps")
    @CsvSource({"euler, EulerDiscreteScheduler, 20", "euler-ancestral, EulerAncestralDiscreteScheduler, 20",
            "dpmpp-2m-sde-karras, DPMSolverMultistepScheduler, 20", "heun, HeunDiscreteScheduler, 4",
            "lms, LMSDiscreteScheduler, 20", "unipc, UniPCMultistepScheduler, 20", "pndm, PNDMScheduler, 20"})
    void txt2imgFollowsTheGoldenTrajectory(String folder, String cls, int steps) throws Exception {
        Path dir = GOLDEN.resolve(folder);
        try (SafeTensorsFile g = SafeTensorsFile.open(dir.resolve("trajectory-" + steps + ".safetensors"))) {
            Scheduler s = Schedulers.create(cls, SchedulerConfig.read(dir.resolve("scheduler_config-sd15.json")));
            s.setTimesteps(steps);
            List<float[]> noise = new ArrayList<>();
            for (int i = 0; i < s.timesteps().length; i++) {
                String key = String.format("step_%03d.noise", i);
                noise.add(g.contains(key) ? g.tensor(key).toFloatArray() : null);
            }
            AtomicInteger batch = new AtomicInteger();
            DenoisingLoop.Request r = DenoisingLoop.Request.txt2img(SHAPE, dummyConditioning(), s, steps, 1f,
                    recorded(g.tensor("x_T").toFloatArray(), noise));
            float[] out = new DenoisingLoop(standIn(batch), cpu).run(r);
            double err = maxAbs(out, g.tensor("final").toFloatArray());
            assertTrue(err <= 1e-4, folder + ": final max_abs " + err);
            assertEquals(1, batch.get(), "guidance 1 runs the conditional half only");
        }
    }

    /** x_T of the trajectories is torch.randn(generator=manual_seed(61)): the seeded path gives the same start. */
    @Test
    void seededNoiseIsTheGoldenXT() throws Exception {
        try (SafeTensorsFile g = SafeTensorsFile.open(GOLDEN.resolve("euler/trajectory-4.safetensors"))) {
            assertArrayEquals(g.tensor("x_T").toFloatArray(), new TorchCpuGenerator(61).randn(SHAPE));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"ddim, DDIMScheduler", "euler, EulerDiscreteScheduler"})
    void img2imgStartsFromTheNoisedInitLatents(String folder, String cls) throws Exception {
        Path dir = GOLDEN.resolve(folder);
        try (SafeTensorsFile g = SafeTensorsFile.open(dir.resolve("img2img-20steps-strength0.6.safetensors"))) {
            Scheduler s = Schedulers.create(cls, SchedulerConfig.read(dir.resolve("scheduler_config-sd15.json")));
            float[] noise = g.tensor("noise").toFloatArray();
            NoiseSource src = shape -> noise.clone();
            List<Float> seen = new ArrayList<>();
            DenoisingLoop.Request r = DenoisingLoop.Request.txt2img(SHAPE, dummyConditioning(), s, 20, 1f, src)
                    .img2img(g.tensor("init_latents").toFloatArray(), 0.6f)
                    .withListener((step, of, t, latents) -> {
                        assertEquals(12, of);
                        seen.add(t);
                    });
            float[] out = new DenoisingLoop(standIn(new AtomicInteger()), cpu).run(r);
            float[] run = g.tensor("timesteps_run").toFloatArray();
            assertEquals(run.length, seen.size());
            for (int i = 0; i < run.length; i++) assertEquals(run[i], seen.get(i), "timestep " + i);
            double err = maxAbs(out, g.tensor("final").toFloatArray());
            assertTrue(err <= 1e-4, folder + ": img2img final max_abs " + err);
        }
    }

    @Test
    void guidanceCombinesBothHalvesOfOneBatch() {
        AtomicInteger batch = new AtomicInteger();
        // cond and uncond differ, so the stand-in would see a batch of 2; guidance 7.5 on identical halves is a no-op.
        Scheduler s = Schedulers.byName("euler", SchedulerConfig.sd15());
        float[] cfg = new DenoisingLoop(standIn(batch), cpu).run(
                DenoisingLoop.Request.txt2img(SHAPE, dummyConditioning(), s, 4, 7.5f, new TorchCpuGenerator(1)));
        assertEquals(2, batch.get());
        float[] plain = new DenoisingLoop(standIn(batch), cpu).run(
                DenoisingLoop.Request.txt2img(SHAPE, dummyConditioning(), Schedulers.byName("euler", SchedulerConfig.sd15()), 4, 1f,
                        new TorchCpuGenerator(1)));
        assertEquals(1, batch.get());
        // The stand-in ignores the text, so uncond == cond and u + g(c - u) == c up to rounding.
        assertTrue(maxAbs(cfg, plain) < 1e-5, "CFG on equal halves " + maxAbs(cfg, plain));
        float[] guided = DenoisingLoop.guide(new float[] {1f, -2f}, new float[] {3f, 0f}, 7.5f);
        assertArrayEquals(new float[] {1f + 7.5f * 2f, -2f + 7.5f * 2f}, guided);
    }

    @Test
    void cancellationStopsAtAStepBoundary() {
        AtomicInteger steps = new AtomicInteger();
        DenoisingLoop.Request r = DenoisingLoop.Request.txt2img(SHAPE, dummyConditioning(),
                        Schedulers.byName("dpmpp_2m_karras", SchedulerConfig.sd15()), 10, 1f, new TorchCpuGenerator(3))
                .withListener((step, of, t, latents) -> steps.incrementAndGet())
                .withCancel(() -> steps.get() >= 3);
        CancellationException e = assertThrows(CancellationException.class,
                () -> new DenoisingLoop(standIn(new AtomicInteger()), cpu).run(r));
        assertEquals(3, steps.get());
        assertTrue(e.getMessage().contains("step 4 of 10"), e.getMessage());
    }

    @Test
    void strengthOutOfRangeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> DenoisingLoop.startIndex(20, 0f, 1));
        assertThrows(IllegalArgumentException.class, () -> DenoisingLoop.startIndex(20, 1.5f, 1));
        assertEquals(8, DenoisingLoop.startIndex(20, 0.6f, 1));
        assertEquals(16, DenoisingLoop.startIndex(20, 0.6f, 2));
        assertEquals(0, DenoisingLoop.startIndex(20, 1f, 1));
    }
}
