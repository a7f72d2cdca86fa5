package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.TrainSchedule;
import org.junit.jupiter.api.Test;

/**
 * The training schedule bit for bit against diffusers' (torch's float32 linspace with its
 * vectorised FMA arithmetic, and cumprod accumulated in double): every value equal, not just within
 * the golden case's 1e-6.
 */
class TrainScheduleGoldenTest {

    @Test
    void sd15TrainingScheduleIsBitExact() throws Exception {
        TrainSchedule t = TrainSchedule.of(SchedulerConfig.sd15());
        try (SafeTensorsFile f = SafeTensorsFile.open(Golden.root().resolve("schedulers/train-schedule.safetensors"))) {
            assertBitEqual("betas", f.tensor("betas"), t.betas());
            assertBitEqual("alphas", f.tensor("alphas"), t.alphas());
            assertBitEqual("alphas_cumprod", f.tensor("alphas_cumprod"), t.alphasCumprod());
        }
    }

    private static void assertBitEqual(String name, Tensor expected, float[] got) {
        assertEquals(expected.numel(), got.length, name);
        for (int i = 0; i < got.length; i++) {
            assertEquals(Float.floatToIntBits(expected.getFloat(i)), Float.floatToIntBits(got[i]),
                    name + "[" + i + "]: " + got[i] + ", diffusers " + expected.getFloat(i));
        }
    }
}
