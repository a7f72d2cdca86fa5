package dev.sdj.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UniPCMultistepSchedulerTest {

    // UniPC is deterministic: it has no shape overload, and must not touch the noise source.
    private static MultistepGolden.Stepper stepper(Scheduler s) {
        return (modelOutput, i, sample, shape, noise) -> s.step(modelOutput, i, sample, noise);
    }

    @ParameterizedTest
    @CsvSource({"sd15, 4", "sd15, 20", "sdxl, 4", "sdxl, 20"})
    void scheduleMatchesDiffusers(String base, int steps) throws Exception {
        MultistepGolden.checkSchedule("unipc", base, steps, UniPCMultistepScheduler::new);
    }

    @ParameterizedTest
    @CsvSource({"4", "20"})
    void trajectoryMatchesDiffusers(int steps) throws Exception {
        MultistepGolden.checkTrajectory("unipc", steps, UniPCMultistepScheduler::new, UniPCMultistepSchedulerTest::stepper);
    }

    @Test
    void registeredUnderItsClassAndUserName() throws Exception {
        assertInstanceOf(UniPCMultistepScheduler.class, Schedulers.create("UniPCMultistepScheduler", SchedulerConfig.sd15()));
        assertInstanceOf(UniPCMultistepScheduler.class, Schedulers.byName("unipc", SchedulerConfig.sd15()));
    }

    @Test
    void unsupportedOptionsAreNamed() throws Exception {
        SchedulerConfig base = MultistepGolden.config("unipc", "sd15");
        var e = assertThrows(IllegalArgumentException.class, () -> new UniPCMultistepScheduler(base.with("predict_x0", false)));
        assertTrue(e.getMessage().contains("'predict_x0'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new UniPCMultistepScheduler(base.with("thresholding", true)));
        assertTrue(e.getMessage().contains("'thresholding'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new UniPCMultistepScheduler(base.with("solver_type", "bh3")));
        assertTrue(e.getMessage().contains("'solver_type'"), e.getMessage());
    }

    /** The 2×2 solve of the order-2 corrector, against the closed form. */
    @Test
    void solvesSmallSystems() {
        float rk = -1.7f, b1 = 0.31f, b2 = 0.12f;
        float[] x = UniPCMultistepScheduler.solve(new float[][] {{1f, 1f}, {rk, 1f}}, new float[] {b1, b2}, 2);
        double det = 1.0 - rk;
        assertArrayEquals(new float[] {(float) ((b1 - b2) / det), (float) ((b2 - rk * b1) / det)}, x, 1e-6f);
    }

    /**
     * No golden covers bh1, solver_order 3 or disable_corrector; they are checked as solvers: at 20
     * steps each lands near diffusers' default UniPC result.
     */
    @ParameterizedTest
    @CsvSource({"bh1, 2, false", "bh2, 3, false", "bh2, 1, false", "bh2, 2, true"})
    void variantsStayCloseToTheGolden(String type, int order, boolean noCorrector) throws Exception {
        SchedulerConfig c = MultistepGolden.config("unipc", "sd15").with("solver_type", type).with("solver_order", order);
        if (noCorrector) {
            c = SchedulerConfig.parse("test", c.toString().replace("\"disable_corrector\":[]", "\"disable_corrector\":[0,1,2,3,4,5]"));
        }
        UniPCMultistepScheduler s = new UniPCMultistepScheduler(c);
        try (var f = dev.sdj.io.SafeTensorsFile.open(MultistepGolden.DIR.resolve("schedulers/unipc/trajectory-20.safetensors"))) {
            s.setTimesteps(20);
            float[] x = f.tensor("x_T").toFloatArray();
            float[] ts = s.timesteps();
            for (int i = 0; i < ts.length; i++) x = s.step(MultistepGolden.standIn(x, ts[i]), i, x, null).prevSample();
            double rel = MultistepGolden.relL2(x, f.tensor("final").toFloatArray());
            System.out.printf(Locale.ROOT, "unipc %s order %d disable_corrector %s, 20 steps: rel_l2 to the golden final %.2e%n",
                    type, order, noCorrector ? "[0..5]" : "[]", rel);
            assertTrue(rel > 0 && rel < 0.05, "rel_l2 " + rel);
        }
    }
}
