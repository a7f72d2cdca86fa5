package dev.sdj.it;

import dev.sdj.backend.Backend;
import dev.sdj.backend.CountingBackend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.pipeline.Conditioning;
import dev.sdj.pipeline.DenoisingLoop;
import dev.sdj.pipeline.DeviceDenoisingLoop;
import dev.sdj.rng.Rngs;
import dev.sdj.sched.Scheduler;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.Schedulers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device-resident loop against the host loop (golden-checked) on the CPU backend, every scheduler, txt2img
 * and img2img, CFG on and off; and the copies it makes, counted by instrumenting the backend.
 */
class DeviceDenoisingLoopTest {
    private static final CpuBackend CPU = new CpuBackend();
    private static UNet2DConditionModel unet;
    private static Tensor cond, uncond;

    @BeforeAll
    static void load() throws Exception {
        unet = UNet2DConditionModel.load(Golden.root().resolve("unet-sd15-tiny"), CPU);
        Random rnd = new Random(5);
        float[] a = new float[77 * 48], b = new float[77 * 48];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
            b[i] = (float) rnd.nextGaussian();
        }
        cond = CPU.upload(Tensor.of(a, Layout.PLAIN, 1, 77, 48));
        uncond = CPU.upload(Tensor.of(b, Layout.PLAIN, 1, 77, 48));
    }

    @AfterAll
    static void close() {
        unet.close();
    }

    static List<String> samplers() {
        return Schedulers.all().stream().map(Schedulers.Entry::name).toList();
    }

    private static DenoisingLoop.Request request(String sampler, float guidance, float[] init, long seed) {
        Scheduler s = Schedulers.byName(sampler, SchedulerConfig.sd15());
        DenoisingLoop.Request r = DenoisingLoop.Request.txt2img(new int[] {1, 4, 8, 8}, Conditioning.of(cond, uncond), s, 5,
                guidance, Rngs.byName("torch-cpu", seed));
        return init == null ? r : r.img2img(init, 0.6f);
    }

    private static float[] device(Backend b, DenoisingLoop.Request r) {
        return device(b, r, true);
    }

    /** graphs: the step-indexed path (captured once, replayed) the GPU takes; else op by op with host coefficients. */
    private static float[] device(Backend b, DenoisingLoop.Request r, boolean graphs) {
        try (Backend.Scope s = b.scope()) {
            return b.download(b.nhwcToNchw(new DeviceDenoisingLoop(unet, b, graphs).run(r))).toFloatArray();
        }
    }

    @ParameterizedTest
    @MethodSource("samplers")
    void matchesTheHostLoop(String sampler) {
        float[] init = new float[4 * 8 * 8];
        Random rnd = new Random(9);
        for (int i = 0; i < init.length; i++) init[i] = (float) rnd.nextGaussian();
        for (float[] in : new float[][] {null, init}) {
            for (float g : new float[] {7.5f, 1f}) {
                float[] host = new DenoisingLoop(unet, CPU).run(request(sampler, g, in, 3));
                float[] dev = device(CPU, request(sampler, g, in, 3));
                float[] plain = device(CPU, request(sampler, g, in, 3), false);
                assertTrue(java.util.Arrays.equals(dev, plain), sampler + ": the captured-step path and the op-by-op path differ");
                double max = 0, ref = 0;
                for (int i = 0; i < host.length; i++) {
                    assertTrue(Float.isFinite(dev[i]), sampler + ": non-finite latent");
                    max = Math.max(max, Math.abs(host[i] - dev[i]));
                    ref = Math.max(ref, Math.abs(host[i]));
                }
                String what = sampler + (in == null ? " txt2img" : " img2img") + " cfg " + g;
                System.out.printf("%-40s max |device - host| %.3g of max %.3g%n", what, max, ref);
                assertTrue(max <= 1e-4 * Math.max(1, ref), what + ": max difference " + max + " (latents up to " + ref + ")");
            }
        }
    }

    @Test
    void theOnlyCopiesAreTheInputs() throws Exception {
        CountingBackend counting = new CountingBackend(CPU);
        try (UNet2DConditionModel counted = UNet2DConditionModel.load(Golden.root().resolve("unet-sd15-tiny"), counting)) {
            for (String sampler : List.of("euler_a", "dpmpp_2m_karras", "heun")) {
                counting.reset();
                try (Backend.Scope s = counting.scope()) {
                    new DeviceDenoisingLoop(counted, counting).run(request(sampler, 7.5f, null, 1));
                }
                // one upload of every noise draw, one of the timesteps (the time projection); nothing comes back
                assertEquals(2, counting.uploads(), sampler + " uploads");
                assertEquals(0, counting.downloads(), sampler + " downloads");
            }
            counting.reset();
            try (Backend.Scope s = counting.scope()) {
                new DeviceDenoisingLoop(counted, counting).run(request("euler", 7.5f, new float[256], 1));
            }
            assertEquals(3, counting.uploads(), "img2img also uploads the init latents");
            assertEquals(0, counting.downloads());
            // the host loop, for comparison, moves the latents both ways every step
            counting.reset();
            new DenoisingLoop(counted, counting).run(request("euler", 7.5f, null, 1));
            assertTrue(counting.downloads() >= 5 && counting.uploads() >= 5, counting.uploads() + " up, " + counting.downloads() + " down");
        }
    }

    @Test
    void cancellationStopsBetweenSteps() {
        int[] steps = {0};
        DenoisingLoop.Request r = request("euler", 7.5f, null, 1).withListener((s, of, t, l) -> steps[0]++)
                .withCancel(() -> steps[0] >= 2);
        assertThrows(CancellationException.class, () -> device(CPU, r));
        assertEquals(2, steps[0]);
    }
}
