package dev.sdj.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Function;

/**
 * Checks a scheduler against tests/golden/schedulers/FOLDER (format: tests/golden/README.md,
 * section f): the schedule files and the stand-in-model trajectories, with the limits of the
 * matching cases.json entries. Used by the DPM-Solver, UniPC and LCM tests. The java module runs
 * its tests in java/, so the golden folder is ../tests/golden.
 */
final class MultistepGolden {
    static final Path DIR = Path.of("../tests/golden");
    private static JsonNode cases;

    private MultistepGolden() {}

    /** One scheduler step with the sample's NCHW shape (for the noise the stochastic ones draw). */
    interface Stepper {
        Scheduler.StepOutput step(float[] modelOutput, int i, float[] sample, int[] shape, NoiseSource noise);
    }

    static SchedulerConfig config(String folder, String base) throws IOException {
        return SchedulerConfig.read(DIR.resolve("schedulers/" + folder + "/scheduler_config-" + base + ".json"));
    }

    /** The cases.json entry {@code name}. */
    static synchronized JsonNode goldenCase(String name) throws IOException {
        if (cases == null) cases = new ObjectMapper().readTree(Files.readAllBytes(DIR.resolve("cases.json"))).get("cases");
        for (JsonNode c : cases) if (name.equals(c.get("name").asText())) return c;
        throw new AssertionError("no case " + name + " in " + DIR.resolve("cases.json"));
    }

    /**
     * schedule-BASE.safetensors at {@code steps}: timesteps exact, sigmas and init_noise_sigma to the
     * case's rel_l2 (sigmas absent from the file ⇔ {@link Scheduler#sigmas()} null).
     */
    static void checkSchedule(String folder, String base, int steps, Function<SchedulerConfig, Scheduler> make) throws IOException {
        String name = "schedulers/" + folder + "/schedule-" + base + "-steps" + steps;
        JsonNode tol = goldenCase(name).get("tolerance").get("per_output");
        Scheduler s = make.apply(config(folder, base));
        s.setTimesteps(steps);
        try (SafeTensorsFile f = SafeTensorsFile.open(DIR.resolve("schedulers/" + folder + "/schedule-" + base + ".safetensors"))) {
            Tensor ts = f.tensor("steps" + steps + ".timesteps");
            assertEquals(DType.I64, ts.dtype(), name + ": timesteps dtype");
            long[] want = new long[(int) ts.numel()];
            for (int i = 0; i < want.length; i++) want[i] = (long) ts.getDouble(i);
            float[] gotF = s.timesteps();
            long[] got = new long[gotF.length];
            for (int i = 0; i < got.length; i++) {
                assertEquals(Math.rint(gotF[i]), gotF[i], name + ": timestep " + i + " is not an integer");
                got[i] = (long) gotF[i];
            }
            assertArrayEquals(want, got, name + ": timesteps");

            String sigKey = "steps" + steps + ".sigmas";
            double sigErr = 0;
            if (f.contains(sigKey)) {
                float[] wantSig = f.tensor(sigKey).toFloatArray();
                float[] gotSig = s.sigmas();
                assertNotNull(gotSig, name + ": the golden has sigmas");
                assertEquals(wantSig.length, gotSig.length, name + ": sigmas length");
                sigErr = relL2(gotSig, wantSig);
                double limit = tol.get("sigmas").get("rel_l2").asDouble();
                assertTrue(sigErr <= limit, name + ": sigmas rel_l2 " + sigErr + " > " + limit);
            } else {
                assertNull(s.sigmas(), name + ": the golden has no sigmas");
            }
            float wantInit = f.tensor("steps" + steps + ".init_noise_sigma").getFloat(0);
            double initErr = Math.abs(s.initNoiseSigma() - wantInit) / Math.abs(wantInit);
            double initLimit = tol.get("init_noise_sigma").get("rel_l2").asDouble();
            assertTrue(initErr <= initLimit, name + ": init_noise_sigma " + s.initNoiseSigma() + " vs " + wantInit);
            System.out.printf(Locale.ROOT, "%-50s timesteps exact (%d), sigmas rel_l2 %.2e, init_noise_sigma rel %.2e%n",
                    name, got.length, sigErr, initErr);
        }
    }

    /**
     * trajectory-STEPS.safetensors: the README's loop with the stand-in model
     * eps = tanh(0.5·x_in)·(0.3 + t/1000) in float32, the recorded step noise injected through the
     * NoiseSource (which fails when a step draws where the golden recorded nothing, or vice versa).
     * Compares every step's prev_sample (and LCM's denoised) and the final latents.
     */
    static void checkTrajectory(String folder, int steps, Function<SchedulerConfig, Scheduler> make,
            Function<Scheduler, Stepper> stepper) throws IOException {
        String name = "schedulers/" + folder + "/trajectory-" + steps;
        JsonNode gc = goldenCase(name);
        double stepLimit = gc.get("per_step_tolerance").get("max_abs").asDouble();
        double finalLimit = gc.get("tolerance").get("max_abs").asDouble();
        JsonNode noiseKeys = gc.get("noise_keys");
        Scheduler s = make.apply(config(folder, "sd15"));
        s.setTimesteps(steps);
        Stepper step = stepper.apply(s);
        try (SafeTensorsFile f = SafeTensorsFile.open(DIR.resolve(gc.get("file").asText()))) {
            Tensor xT = f.tensor("x_T");
            int[] shape = xT.shape();
            float[] latents = xT.toFloatArray();
            float init = s.initNoiseSigma();
            for (int k = 0; k < latents.length; k++) latents[k] *= init;

            float[] ts = s.timesteps();
            assertEquals(noiseKeys.size(), ts.length, name + ": number of steps");
            double maxStep = 0, maxModel = 0, maxDenoised = 0;
            float[] denoised = null;
            for (int i = 0; i < ts.length; i++) {
                String p = String.format(Locale.ROOT, "step_%03d.", i);
                assertEquals(f.tensor(p + "timestep").getFloat(0), ts[i], name + ": " + p + "timestep");
                float[] in = s.scaleModelInput(latents, i);
                float[] eps = standIn(in, ts[i]);
                maxModel = Math.max(maxModel, maxAbs(eps, f.tensor(p + "model_output").toFloatArray()));

                JsonNode nk = noiseKeys.get(i);
                RecordedNoise noise = new RecordedNoise(f, nk.isNull() ? null : nk.asText(), shape, name + " step " + i);
                Scheduler.StepOutput out = step.step(eps, i, latents, shape, noise);
                noise.assertUsed();

                double e = maxAbs(out.prevSample(), f.tensor(p + "prev_sample").toFloatArray());
                assertTrue(e <= stepLimit, name + ": " + p + "prev_sample max |diff| " + e + " > " + stepLimit);
                maxStep = Math.max(maxStep, e);
                if (f.contains(p + "denoised")) {
                    assertNotNull(out.predOriginalSample(), name + ": " + p + "denoised expected");
                    double d = maxAbs(out.predOriginalSample(), f.tensor(p + "denoised").toFloatArray());
                    assertTrue(d <= stepLimit, name + ": " + p + "denoised max |diff| " + d + " > " + stepLimit);
                    maxDenoised = Math.max(maxDenoised, d);
                }
                latents = out.prevSample();
                denoised = out.predOriginalSample();
            }
            double fin = maxAbs(latents, f.tensor("final").toFloatArray());
            assertTrue(fin <= finalLimit, name + ": final max |diff| " + fin + " > " + finalLimit);
            double fin64 = maxAbs(latents, f.tensor("final_f64").toFloatArray());
            String extra = "";
            if (gc.get("expected").has("final_denoised")) {
                double fd = maxAbs(denoised, f.tensor("final_denoised").toFloatArray());
                assertTrue(fd <= finalLimit, name + ": final_denoised max |diff| " + fd + " > " + finalLimit);
                extra = String.format(Locale.ROOT, ", final_denoised %.2e, denoised/step %.2e", fd, maxDenoised);
            }
            System.out.printf(Locale.ROOT,
                    "%-50s max|diff| prev_sample/step %.2e, final %.2e (limit %.2e), vs final_f64 %.2e, model_output %.2e%s%n",
                    name, maxStep, fin, finalLimit, fin64, maxModel, extra);
        }
    }

    /** The README's stand-in model: tanh(0.5·x_in)·(0.3 + float(t)/1000), float32 like torch. */
    static float[] standIn(float[] in, float t) {
        float scale = (float) (0.3 + (double) t / 1000);
        float[] out = new float[in.length];
        for (int k = 0; k < in.length; k++) out[k] = (float) Math.tanh(0.5f * in[k]) * scale;
        return out;
    }

    static double maxAbs(float[] a, float[] b) {
        assertEquals(b.length, a.length, "lengths");
        double m = 0;
        for (int k = 0; k < a.length; k++) m = Math.max(m, Math.abs((double) a[k] - b[k]));
        return m;
    }

    static double relL2(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int k = 0; k < a.length; k++) {
            double d = (double) a[k] - b[k];
            num += d * d;
            den += (double) b[k] * b[k];
        }
        return Math.sqrt(num) / Math.sqrt(den);
    }

    /** The step's recorded noise, handed out once; fails on a draw the golden did not record. */
    private static final class RecordedNoise implements NoiseSource {
        private final SafeTensorsFile file;
        private final String key;
        private final int[] shape;
        private final String where;
        private boolean used;

        RecordedNoise(SafeTensorsFile file, String key, int[] shape, String where) {
            this.file = file;
            this.key = key;
            this.shape = shape;
            this.where = where;
        }

        @Override
        public float[] randn(int... requested) {
            if (key == null) fail(where + ": the scheduler drew noise where diffusers draws none");
            if (used) fail(where + ": the scheduler drew noise twice in one step");
            assertArrayEquals(shape, requested, where + ": noise shape");
            used = true;
            try {
                return file.tensor(key).toFloatArray();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }

        void assertUsed() {
            if (key != null && !used) fail(where + ": diffusers draws noise here (" + key + "), the scheduler did not");
        }
    }
}
