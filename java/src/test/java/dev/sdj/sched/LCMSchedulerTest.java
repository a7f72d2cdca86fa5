package dev.sdj.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LCMSchedulerTest {

    private static MultistepGolden.Stepper stepper(Scheduler s) {
        return ((LCMScheduler) s)::step;
    }

    @ParameterizedTest
    @CsvSource({"sd15, 4", "sd15, 20", "sdxl, 4", "sdxl, 20"})
    void scheduleMatchesDiffusers(String base, int steps) throws Exception {
        MultistepGolden.checkSchedule("lcm", base, steps, LCMScheduler::new);
    }

    @ParameterizedTest
    @CsvSource({"4", "20"})
    void trajectoryMatchesDiffusers(int steps) throws Exception {
        MultistepGolden.checkTrajectory("lcm", steps, LCMScheduler::new, LCMSchedulerTest::stepper);
    }

    @Test
    void registeredUnderItsClassAndUserName() throws Exception {
        assertInstanceOf(LCMScheduler.class, Schedulers.create("LCMScheduler", SchedulerConfig.sd15()));
        Scheduler s = Schedulers.byName("lcm", SchedulerConfig.sd15());
        s.setTimesteps(4);
        assertArrayEquals(new float[] {999, 759, 499, 259}, s.timesteps());
    }

    @Test
    void scheduleIsASubsetOfTheDistillationSchedule() throws Exception {
        LCMScheduler s = new LCMScheduler(MultistepGolden.config("lcm", "sd15"));
        s.setTimesteps(1);
        assertArrayEquals(new float[] {999}, s.timesteps());
        s.setTimesteps(50);
        assertEquals(19f, s.timesteps()[49]);
        var e = assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(51));
        assertTrue(e.getMessage().contains("original_inference_steps"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LCMScheduler(MultistepGolden.config("lcm", "sd15").with("thresholding", true)));
        assertTrue(e.getMessage().contains("'thresholding'"), e.getMessage());
    }

    @Test
    void oneStepDrawsNoNoiseAndReturnsTheDenoised() throws Exception {
        LCMScheduler s = new LCMScheduler(MultistepGolden.config("lcm", "sd15"));
        s.setTimesteps(1);
        float[] x = {0.5f, -1f, 2f, 0f};
        Scheduler.StepOutput out = s.step(MultistepGolden.standIn(x, 999), 0, x, null);
        assertArrayEquals(out.predOriginalSample(), out.prevSample());
    }

    @Test
    void addNoiseUsesAlphasCumprodAtTheStepTimestep() throws Exception {
        SchedulerConfig c = MultistepGolden.config("lcm", "sd15");
        LCMScheduler s = new LCMScheduler(c);
        s.setTimesteps(4);
        float ac = TrainSchedule.of(c).alphasCumprod()[499];
        float[] out = s.addNoise(new float[] {1f}, new float[] {2f}, 2);
        assertEquals((float) Math.sqrt(ac) + (float) Math.sqrt(1f - ac) * 2f, out[0], 1e-6f);
    }
}
