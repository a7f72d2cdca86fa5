package dev.sdj.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DPMSolverMultistepSchedulerTest {

    private static MultistepGolden.Stepper stepper(Scheduler s) {
        return ((DPMSolverMultistepScheduler) s)::step;
    }

    @ParameterizedTest
    @CsvSource({"dpmpp-2m, sd15, 4", "dpmpp-2m, sd15, 20", "dpmpp-2m, sdxl, 4", "dpmpp-2m, sdxl, 20",
            "dpmpp-2m-karras, sd15, 4", "dpmpp-2m-karras, sd15, 20", "dpmpp-2m-karras, sdxl, 4", "dpmpp-2m-karras, sdxl, 20",
            "dpmpp-2m-sde-karras, sd15, 4", "dpmpp-2m-sde-karras, sd15, 20", "dpmpp-2m-sde-karras, sdxl, 4",
            "dpmpp-2m-sde-karras, sdxl, 20"})
    void scheduleMatchesDiffusers(String folder, String base, int steps) throws Exception {
        MultistepGolden.checkSchedule(folder, base, steps, DPMSolverMultistepScheduler::new);
    }

    @ParameterizedTest
    @CsvSource({"dpmpp-2m, 4", "dpmpp-2m, 20", "dpmpp-2m-karras, 4", "dpmpp-2m-karras, 20",
            "dpmpp-2m-sde-karras, 4", "dpmpp-2m-sde-karras, 20"})
    void trajectoryMatchesDiffusers(String folder, int steps) throws Exception {
        MultistepGolden.checkTrajectory(folder, steps, DPMSolverMultistepScheduler::new, DPMSolverMultistepSchedulerTest::stepper);
    }

    @Test
    void registeredUnderItsClassAndUserNames() throws Exception {
        SchedulerConfig base = SchedulerConfig.sd15();
        assertInstanceOf(DPMSolverMultistepScheduler.class, Schedulers.create("DPMSolverMultistepScheduler", base));
        // dpmpp_2m_karras sets use_karras_sigmas on top of SD1.5's config: the golden's karras schedule.
        Scheduler s = Schedulers.byName("dpmpp_2m_karras", base);
        s.setTimesteps(4);
        assertArrayEquals(new float[] {999, 687, 146, 0}, s.timesteps());
    }

    @Test
    void unsupportedOptionsAreNamed() throws Exception {
        SchedulerConfig base = MultistepGolden.config("dpmpp-2m", "sd15");
        for (String algo : new String[] {"dpmsolver", "sde-dpmsolver", "foo"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> new DPMSolverMultistepScheduler(base.with("algorithm_type", algo)));
            assertTrue(e.getMessage().contains("'algorithm_type' = " + algo), e.getMessage());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> new DPMSolverMultistepScheduler(base.with("thresholding", true)));
        assertTrue(e.getMessage().contains("'thresholding'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new DPMSolverMultistepScheduler(base.with("timestep_spacing", "foo")));
        assertTrue(e.getMessage().contains("'timestep_spacing'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new DPMSolverMultistepScheduler(base.with("algorithm_type", "sde-dpmsolver++").with("solver_order", 3)));
        assertTrue(e.getMessage().contains("'solver_order'"), e.getMessage());
        // "deis" is mapped to dpmsolver++ by diffusers, like bh2 to midpoint.
        new DPMSolverMultistepScheduler(base.with("algorithm_type", "deis").with("solver_type", "bh2"));
    }

    @Test
    void trailingSpacingFollowsNumpyArange() throws Exception {
        SchedulerConfig c = MultistepGolden.config("dpmpp-2m", "sd15").with("timestep_spacing", "trailing");
        DPMSolverMultistepScheduler s = new DPMSolverMultistepScheduler(c);
        s.setTimesteps(4);
        assertArrayEquals(new float[] {999, 749, 499, 249}, s.timesteps());
        // np.arange(1000, 0, -1000/61) has 62 elements, the last ~-6e-13 → timestep -1; diffusers runs 62 steps.
        s.setTimesteps(61);
        float[] t = s.timesteps();
        assertEquals(62, t.length);
        assertEquals(-1f, t[61]);
        assertEquals(63, s.sigmas().length);
    }

    @Test
    void sdeNeedsANoiseSourceAndStepsRunInOrder() throws Exception {
        DPMSolverMultistepScheduler s = new DPMSolverMultistepScheduler(MultistepGolden.config("dpmpp-2m-sde-karras", "sd15"));
        s.setTimesteps(4);
        float[] x = new float[16];
        assertThrows(IllegalArgumentException.class, () -> s.step(new float[16], 0, x, null));
        s.setTimesteps(4);
        s.step(new float[16], 0, x, new int[] {1, 1, 4, 4}, shape -> new float[16]);
        assertThrows(IllegalStateException.class, () -> s.step(new float[16], 2, x, shape -> new float[16]));
    }

    @Test
    void addNoiseUsesTheStepSigma() throws Exception {
        DPMSolverMultistepScheduler s = new DPMSolverMultistepScheduler(MultistepGolden.config("dpmpp-2m", "sd15"));
        s.setTimesteps(20);
        float sigma = s.sigmas()[8];
        float alpha = 1f / (float) Math.sqrt(sigma * sigma + 1f);
        float[] out = s.addNoise(new float[] {1f, -2f}, new float[] {0.5f, 3f}, 8);
        assertEquals(alpha * 1f + sigma * alpha * 0.5f, out[0], 1e-6f);
        assertEquals(alpha * -2f + sigma * alpha * 3f, out[1], 1e-6f);
    }

    /**
     * No golden covers solver_order 1/3 or heun; they are checked as solvers: at 20 steps each lands
     * near diffusers' DPM++ 2M midpoint result (differences of discretisation order, not of kind).
     */
    @ParameterizedTest
    @CsvSource({"dpmpp-2m, 1, midpoint, dpmsolver++", "dpmpp-2m, 2, heun, dpmsolver++", "dpmpp-2m, 3, midpoint, dpmsolver++",
            "dpmpp-2m-karras, 2, heun, dpmsolver++", "dpmpp-2m-karras, 3, midpoint, dpmsolver++",
            "dpmpp-2m-sde-karras, 2, heun, sde-dpmsolver++"})
    void otherOrdersAndSolverTypesStayCloseToTheGolden(String folder, int order, String type, String algo) throws Exception {
        // Karras at 20 steps ends on a repeated sigma (h = 0), where diffusers' heun and third-order
        // updates give NaN; sdj gives the unchanged sample there.
        SchedulerConfig c = MultistepGolden.config(folder, "sd15").with("solver_order", order).with("solver_type", type);
        DPMSolverMultistepScheduler s = new DPMSolverMultistepScheduler(c.with("algorithm_type", algo));
        try (var f = dev.sdj.io.SafeTensorsFile.open(MultistepGolden.DIR.resolve("schedulers/" + folder + "/trajectory-20.safetensors"))) {
            s.setTimesteps(20);
            float[] x = f.tensor("x_T").toFloatArray();
            float[] ts = s.timesteps();
            for (int i = 0; i < ts.length; i++) {
                String key = String.format(Locale.ROOT, "step_%03d.noise", i);
                float[] z = f.contains(key) ? f.tensor(key).toFloatArray() : null;
                x = s.step(MultistepGolden.standIn(x, ts[i]), i, x, new int[] {1, 4, 8, 8}, shape -> z).prevSample();
            }
            double rel = MultistepGolden.relL2(x, f.tensor("final").toFloatArray());
            System.out.printf(Locale.ROOT, "%s with %s order %d %s, 20 steps: rel_l2 to the golden final %.2e%n", folder, algo, order, type, rel);
            assertTrue(rel < 0.05, "rel_l2 " + rel);
        }
    }
}
