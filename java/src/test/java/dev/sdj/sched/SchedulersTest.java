package dev.sdj.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The schedulers without golden data: refused options name their key, the timestep spacings the
 * golden cases do not cover (expected values from numpy running diffusers v0.24.0's formulas), the
 * noise draws, and the Heun/PNDM state. The golden cases (tests module) cover the SD configs.
 */
class SchedulersTest {

    private static SchedulerConfig sd15(Object... kv) {
        SchedulerConfig c = SchedulerConfig.sd15();
        for (int i = 0; i < kv.length; i += 2) c = c.with((String) kv[i], kv[i + 1]);
        return c;
    }

    private static void assertRejects(String key, Runnable make) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make::run);
        assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
    }

    @Test
    void everyClassIsRegistered() {
        for (String cls : List.of("DDIMScheduler", "PNDMScheduler", "LMSDiscreteScheduler", "EulerDiscreteScheduler",
                "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler")) {
            assertEquals(cls, Schedulers.create(cls, SchedulerConfig.sd15()).className());
        }
        assertEquals("HeunDiscreteScheduler", Schedulers.byName("heun", SchedulerConfig.sd15()).className());
        var e = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("FooScheduler", SchedulerConfig.sd15()));
        assertTrue(e.getMessage().contains("FooScheduler is not implemented"), e.getMessage());
    }

    @Test
    void unimplementedOptionsAreRefusedByName() {
        assertRejects("skip_prk_steps", () -> new PNDMScheduler(sd15("skip_prk_steps", false)));
        assertRejects("timestep_spacing", () -> new EulerDiscreteScheduler(sd15("timestep_spacing", "foo")));
        assertRejects("timestep_spacing", () -> new DDIMScheduler(sd15("timestep_spacing", "foo")));
        assertRejects("prediction_type", () -> new EulerAncestralDiscreteScheduler(sd15("prediction_type", "sample")));
        assertRejects("prediction_type", () -> new PNDMScheduler(sd15("prediction_type", "sample")));
        assertRejects("interpolation_type", () -> new EulerDiscreteScheduler(sd15("interpolation_type", "log_linear")));
        assertRejects("thresholding", () -> new DDIMScheduler(sd15("thresholding", true)));
        assertRejects("rescale_betas_zero_snr", () -> new DDIMScheduler(sd15("rescale_betas_zero_snr", true)));
        assertRejects("beta_schedule", () -> new HeunDiscreteScheduler(sd15("beta_schedule", "exp")));
        // Classes that do not take rescale_betas_zero_snr ignore it, as in diffusers.
        new EulerDiscreteScheduler(sd15("rescale_betas_zero_snr", true));
    }

    @Test
    void timestepSpacings() {
        // np.round(np.arange(1000, 0, -1000/n)).astype(int64) - 1, and np.linspace(0, 999, n).round()[::-1]
        assertArrayEquals(new float[] {999, 666, 332}, timesteps(new DDIMScheduler(sd15("timestep_spacing", "trailing")), 3));
        assertArrayEquals(new float[] {999, 856, 713, 570, 428, 285, 142},
                timesteps(new DDIMScheduler(sd15("timestep_spacing", "trailing")), 7));
        assertArrayEquals(new float[] {999, 832, 666, 500, 333, 166, 0},
                timesteps(new DDIMScheduler(sd15("timestep_spacing", "linspace")), 7));
        assertArrayEquals(new float[] {999, 666, 332}, timesteps(new EulerDiscreteScheduler(sd15("timestep_spacing", "trailing")), 3));
        assertArrayEquals(new float[] {751, 501, 251, 1}, timesteps(new EulerDiscreteScheduler(sd15("timestep_spacing", "leading")), 4));
        // PLMS repeats the second timestep: [999, 666, 666, 333, 0] from _timesteps [0, 333, 666, 999]
        assertArrayEquals(new float[] {999, 666, 666, 333, 0}, timesteps(new PNDMScheduler(sd15("timestep_spacing", "linspace")), 4));
        assertArrayEquals(new float[] {999, 666, 666, 332}, timesteps(new PNDMScheduler(sd15("timestep_spacing", "trailing")), 3));
    }

    private static float[] timesteps(Scheduler s, int steps) {
        s.setTimesteps(steps);
        return s.timesteps();
    }

    @Test
    void karrasSigmasAndTheirTimesteps() {
        // diffusers' set_timesteps(4) with use_karras_sigmas, in numpy (sd15 betas). Fractional
        // timesteps depend on numpy's float32 log, which is not correctly rounded on every CPU: ±1 ulp.
        Scheduler s = new EulerDiscreteScheduler(sd15("use_karras_sigmas", true));
        s.setTimesteps(4);
        float[] sigmas = {14.614645004272461f, 3.1686108112335205f, 0.44692087173461914f, 0.029167532920837402f, 0f};
        float[] t = {999.0f, 687.1532592773438f, 145.93902587890625f, 0.0f};
        for (int i = 0; i < sigmas.length; i++) assertEquals(sigmas[i], s.sigmas()[i], sigmas[i] * 1e-6, "sigma " + i);
        for (int i = 0; i < t.length; i++) assertEquals(t[i], s.timesteps()[i], 1e-4, "timestep " + i);
        // Heun repeats them: 2n sigmas, 2n − 1 timesteps.
        Scheduler h = new HeunDiscreteScheduler(sd15("use_karras_sigmas", true));
        h.setTimesteps(4);
        assertEquals(8, h.sigmas().length);
        assertEquals(7, h.timesteps().length);
        assertEquals(s.timesteps()[1], h.timesteps()[2]);
    }

    /** A source that hands out numbered draws and remembers the shapes asked for. */
    private static final class CountingNoise implements NoiseSource {
        final List<int[]> shapes = new ArrayList<>();

        @Override
        public float[] randn(int... shape) {
            shapes.add(shape.clone());
            float[] v = new float[Math.toIntExact(dev.sdj.core.Tensor.numel(shape))];
            java.util.Arrays.fill(v, 0.5f);
            return v;
        }
    }

    @Test
    void eulerAncestralDrawsNoiseOfTheLatentShapeEveryStep() {
        Scheduler s = new EulerAncestralDiscreteScheduler(SchedulerConfig.sd15());
        s.setTimesteps(3);
        float[] eps = new float[8];
        int[] shape = {1, 2, 2, 2};
        assertThrows(UnsupportedOperationException.class, () -> s.step(eps, 0, new float[8], new CountingNoise()));
        float[] x = new float[8];
        CountingNoise noise = new CountingNoise();
        for (int i = 0; i < 3; i++) x = s.step(eps, i, x, shape, noise).prevSample();
        assertEquals(3, noise.shapes.size());
        assertArrayEquals(shape, noise.shapes.get(0));
        // From zero latents and zero model output only the noise moves the latents: σ_up · 0.5 at the first step.
        Scheduler fresh = new EulerAncestralDiscreteScheduler(SchedulerConfig.sd15());
        fresh.setTimesteps(3);
        float[] sig = fresh.sigmas();
        float up = (float) Math.sqrt(sig[1] * sig[1] * (sig[0] * sig[0] - sig[1] * sig[1]) / (sig[0] * sig[0]));
        assertEquals(0.5f * up, fresh.step(eps, 0, new float[8], shape, new CountingNoise()).prevSample()[0], 1e-6);
    }

    @Test
    void eulerDrawsTheUnusedNoiseDiffusersDraws() {
        Scheduler s = new EulerDiscreteScheduler(SchedulerConfig.sd15());
        s.setTimesteps(2);
        CountingNoise noise = new CountingNoise();
        float[] x = {1, 2, 3, 4};
        float[] a = s.step(new float[4], 0, x, new int[] {1, 1, 2, 2}, noise).prevSample();
        assertEquals(1, noise.shapes.size());
        assertArrayEquals(a, s.step(new float[4], 0, x, null).prevSample()); // the draw does not change the step
    }

    @Test
    void heunAlternatesEulerAndCorrectionSteps() {
        Scheduler s = new HeunDiscreteScheduler(SchedulerConfig.sd15());
        s.setTimesteps(2);
        assertEquals(2, s.order());
        float[] t = s.timesteps();
        assertEquals(3, t.length);
        assertEquals(t[1], t[2]);
        float[] x = {1f, -1f};
        float[] eps = {0.1f, 0.2f};
        float[] sig = s.sigmas();
        float[] afterEuler = s.step(eps, 0, x, null).prevSample();
        // first half: x + (x − (x − σ0·ε))/σ0 · (σ1 − σ0) = x + ε·(σ1 − σ0)
        assertEquals(x[0] + eps[0] * (sig[1] - sig[0]), afterEuler[0], 1e-5);
        // second half with the same ε: the average slope is ε again, from the first half's start
        float[] corrected = s.step(eps, 1, afterEuler, null).prevSample();
        assertEquals(x[0] + eps[0] * (sig[1] - sig[0]), corrected[0], 1e-5);
        assertNull(s.step(eps, 2, corrected, null).predOriginalSample());
    }

    @Test
    void pndmNeedsItsFirstTwoCallsForOneStep() {
        Scheduler s = new PNDMScheduler(SchedulerConfig.sd15());
        s.setTimesteps(3);
        assertArrayEquals(new float[] {667, 334, 334, 1}, s.timesteps());
        float[] x = {0.3f, -0.7f};
        float[] eps = {0.1f, -0.2f};
        float[] x1 = s.step(eps, 0, x, null).prevSample();
        // The second call restarts from the first call's sample: with the same ε it gives the first call's result.
        assertArrayEquals(x1, s.step(eps, 1, x1, null).prevSample(), 1e-6f);
        s.setTimesteps(3); // a new run forgets the history
        assertArrayEquals(x1, s.step(eps, 0, x, null).prevSample());
    }

    @Test
    void lmsFirstOrderCoefficientIsTheSigmaStep() {
        LMSDiscreteScheduler s = new LMSDiscreteScheduler(SchedulerConfig.sd15());
        s.setTimesteps(10);
        float[] sig = s.sigmas();
        assertEquals((double) sig[4] - sig[3], s.lmsCoefficient(1, 3, 0), 1e-12);
        // Lagrange basis polynomials sum to 1, so the coefficients of one order sum to the σ step.
        double sum = 0;
        for (int j = 0; j < 4; j++) sum += s.lmsCoefficient(4, 5, j);
        assertEquals((double) sig[6] - sig[5], sum, 1e-9);
    }

    @Test
    void addNoiseUsesTheStepsNoiseLevel() {
        Scheduler e = new EulerDiscreteScheduler(SchedulerConfig.sd15());
        e.setTimesteps(5);
        float sigma = e.sigmas()[2];
        assertEquals(1f + 2f * sigma, e.addNoise(new float[] {1f}, new float[] {2f}, 2)[0]);
        Scheduler d = new DDIMScheduler(SchedulerConfig.sd15());
        d.setTimesteps(5);
        float[] ac = TrainSchedule.of(SchedulerConfig.sd15()).alphasCumprod();
        float a = ac[(int) d.timesteps()[2]];
        assertEquals((float) Math.sqrt(a) * 1f + (float) Math.sqrt(1f - a) * 2f, d.addNoise(new float[] {1f}, new float[] {2f}, 2)[0]);
        assertThrows(IndexOutOfBoundsException.class, () -> d.addNoise(new float[1], new float[1], 5));
    }

    @Test
    void torchLinspaceEndpoints() {
        float[] l = TrainSchedule.linspace(0.1f, 0.9f, 1000);
        assertEquals(0.1f, l[0]);
        assertEquals(0.9f, l[999]);
        assertArrayEquals(new float[] {0f, 0.25f, 0.5f, 0.75f, 1f}, TrainSchedule.linspace(0f, 1f, 5));
    }
}
