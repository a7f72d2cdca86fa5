package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import dev.sdj.golden.Tolerance.Limits;
import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.Schedulers;
import dev.sdj.sched.TrainSchedule;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The scheduler kinds (tests/golden/README.md, "f. schedulers/"): scheduler-schedule (the training
 * schedule, or a scheduler's timesteps, sigmas and init_noise_sigma), scheduler-trajectory (a
 * sampling loop with the README's stand-in model instead of a U-Net, the noise drawn inside step()
 * injected from the recording) and img2img-start (StableDiffusionImg2ImgPipeline's start, then the
 * same loop). Latents stay flat NCHW float arrays, as the schedulers take them.
 */
final class SchedulerCases {
    private SchedulerCases() {}

    static final Set<String> KINDS = Set.of("scheduler-schedule", "scheduler-trajectory", "img2img-start");

    // README, Tolerances: "timesteps: exact; sigmas: ≤ 1e-6 relative" (as the schedule cases give them).
    private static final Limits TIMESTEPS = new Limits(0.0, null), SIGMA = new Limits(null, 1e-6);

    /** Runs a case of one of {@link #KINDS} and judges it ({@code expected}: the case's references, loaded). */
    static CaseResult run(GoldenCase c, CaseFiles f, Map<String, Tensor> expected, Tolerance tolerance) throws IOException {
        List<Compare.Result> more = new ArrayList<>();
        Map<String, Tensor> got = switch (c.kind()) {
            case "scheduler-schedule" -> schedule(c);
            case "scheduler-trajectory" -> trajectory(c, f, tolerance, more);
            case "img2img-start" -> img2img(c, f, more);
            default -> throw new IllegalStateException("not a scheduler kind: " + c.kind());
        };
        return GoldenRunner.judge(c, expected, tolerance, got, more);
    }

    // ---- kinds ----

    private static Map<String, Tensor> schedule(GoldenCase c) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        JsonNode steps = c.input("steps");
        if (steps == null || steps.isNull()) {
            // The training schedule: the config with the keys the case lists as inputs.
            SchedulerConfig config = config(c);
            for (String arg : c.inputNames()) config = config.with(arg, c.input(arg));
            TrainSchedule t = TrainSchedule.of(config);
            out.put("betas", vector(t.betas()));
            out.put("alphas", vector(t.alphas()));
            out.put("alphas_cumprod", vector(t.alphasCumprod()));
            return out;
        }
        Scheduler s = scheduler(c);
        s.setTimesteps(intInput(c, "steps"));
        out.put("timesteps", vector(s.timesteps()));
        if (s.sigmas() != null) out.put("sigmas", vector(s.sigmas()));
        out.put("init_noise_sigma", scalar(s.initNoiseSigma()));
        return out;
    }

    /** README: latents = x_T · init_noise_sigma, then one stand-in model call and step per timestep. */
    private static Map<String, Tensor> trajectory(GoldenCase c, CaseFiles f, Tolerance tolerance, List<Compare.Result> more)
            throws IOException {
        Scheduler s = scheduler(c);
        s.setTimesteps(intInput(c, "steps"));
        Tensor xT = f.tensor(c.inputRef("x_T"));
        float sigma = s.initNoiseSigma();
        float[] latents = xT.toFloatArray();
        for (int k = 0; k < latents.length; k++) latents[k] *= sigma;
        // The schedule the loop runs on, checked as the schedule cases check it.
        if (has(c, "timesteps")) more.add(check(f, c, "timesteps", vector(s.timesteps()), TIMESTEPS));
        if (has(c, "init_noise_sigma")) more.add(check(f, c, "init_noise_sigma", scalar(sigma), SIGMA));
        Map<String, Tensor> out = loop(c, f, s, 0, latents, xT.shape(), more);
        JsonNode f64 = c.json().get("reference_f64");
        if (f64 != null && f64.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = f64.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                Tensor got = out.get(e.getKey());
                if (got == null) continue; // judged (as missing) with the expected outputs
                Tensor ref = f.tensor(Ref.parse(e.getValue(), c.file(), c.dir(), "reference_f64." + e.getKey()));
                more.add(Compare.compare(e.getKey() + "_f64", got, ref, tolerance.forOutput(e.getKey())));
            }
        }
        return out;
    }

    /**
     * StableDiffusionImg2ImgPipeline v0.24.0: init_timestep = min(int(steps·strength), steps),
     * t_start = max(steps − init_timestep, 0), the loop runs timesteps[t_start·order:] from
     * add_noise(init_latents, noise, timesteps_run[:1]) (no init_noise_sigma scaling).
     */
    private static Map<String, Tensor> img2img(GoldenCase c, CaseFiles f, List<Compare.Result> more)
            throws IOException {
        Scheduler s = scheduler(c);
        int steps = intInput(c, "steps");
        JsonNode strengthNode = c.input("strength");
        if (strengthNode == null || !strengthNode.isNumber()) throw new GoldenFormatException("input \"strength\" must be a number");
        double strength = strengthNode.asDouble();
        s.setTimesteps(steps);
        int initTimestep = Math.min((int) (steps * strength), steps); // Python int() truncates
        int tStart = Math.max(steps - initTimestep, 0);
        int first = tStart * s.order();
        float[] all = s.timesteps();
        if (first >= all.length) throw new IllegalArgumentException("strength " + strength + " leaves no timestep to run");
        Tensor init = f.tensor(c.inputRef("init_latents"));
        float[] noise = f.tensor(c.inputRef("noise")).toFloatArray();
        float[] noised = s.addNoise(init.toFloatArray(), noise, first);
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("timesteps_run", vector(Arrays.copyOfRange(all, first, all.length)));
        out.put("latent_timestep", vector(new float[] {all[first]}));
        out.put("noised_latents", Tensor.of(noised.clone(), init.shape()));
        out.putAll(loop(c, f, s, first, noised, init.shape(), more));
        return out;
    }

    /**
     * The stand-in sampling loop over timesteps[first:]: model_input = scale_model_input(latents),
     * model_output = tanh(0.5·model_input)·(0.3 + t/1000), latents = step(...).prev_sample. Every
     * per_step record is compared with per_step_tolerance and summed up in {@code more}; returns
     * "final" (and "final_denoised" where the step gives an x₀ estimate, LCM's denoised).
     */
    private static Map<String, Tensor> loop(GoldenCase c, CaseFiles f, Scheduler s, int first, float[] latents, int[] shape,
                                            List<Compare.Result> more) throws IOException {
        float[] timesteps = s.timesteps();
        List<Ref> noiseKeys = noiseKeys(c);
        List<Map<String, Tensor>> records = new ArrayList<>();
        RecordedNoise noise = new RecordedNoise();
        float[] x0 = null;
        for (int i = first; i < timesteps.length; i++) {
            int j = i - first;
            float t = timesteps[i];
            float[] input = s.scaleModelInput(latents, i);
            float[] eps = standIn(input, t);
            Ref key = j < noiseKeys.size() ? noiseKeys.get(j) : null;
            noise.begin(j, key == null ? null : f.tensor(key));
            Scheduler.StepOutput o = s.step(eps, i, latents, shape, noise);
            noise.end();
            Map<String, Tensor> r = new LinkedHashMap<>();
            r.put("timestep", scalar(t));
            r.put("model_input", Tensor.of(input, shape));
            r.put("model_output", Tensor.of(eps, shape));
            r.put("prev_sample", Tensor.of(o.prevSample(), shape));
            if (o.predOriginalSample() != null) {
                r.put("pred_original_sample", Tensor.of(o.predOriginalSample(), shape));
                r.put("denoised", Tensor.of(o.predOriginalSample(), shape));
            }
            if (noise.drawn != null) r.put("noise", Tensor.of(noise.drawn, shape));
            records.add(r);
            latents = o.prevSample();
            x0 = o.predOriginalSample();
        }
        more.add(perStep(c, f, records));
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("final", Tensor.of(latents, shape));
        if (x0 != null) out.put("final_denoised", Tensor.of(x0, shape));
        return out;
    }

    /** README: model_output = tanh(0.5 * model_input) * (0.3 + float(t) / 1000), in float32 as torch computes it. */
    static float[] standIn(float[] input, float t) {
        float scale = (float) (0.3 + (double) t / 1000); // a Python float, rounded to float32 by the tensor product
        float[] out = new float[input.length];
        for (int k = 0; k < out.length; k++) out[k] = (float) Math.tanh(0.5f * input[k]) * scale;
        return out;
    }

    /**
     * Every per_step record against its reference with per_step_tolerance, as one result: the
     * worst comparison when all pass, else the failing ones.
     */
    static Compare.Result perStep(GoldenCase c, CaseFiles f, List<Map<String, Tensor>> records) throws IOException {
        return perStep(c, f, records, DType.F32);
    }

    /** The same with the limits {@linkplain Tolerance#widen widened} for a backend computing in {@code compute}. */
    static Compare.Result perStep(GoldenCase c, CaseFiles f, List<Map<String, Tensor>> records, DType compute) throws IOException {
        JsonNode perStep = c.json().get("per_step");
        if (perStep == null || perStep.isNull()) return new Compare.Result("per_step", true, 0, 0, "no per_step records");
        if (!perStep.isArray()) throw new GoldenFormatException("\"per_step\" must be an array");
        Limits limits = Tolerance.widen(Tolerance.parse(c.json().get("per_step_tolerance")).forOutput("per_step"), compute);
        List<String> failed = new ArrayList<>();
        Compare.Result worst = null;
        int compared = 0;
        if (perStep.size() != records.size()) {
            failed.add("the loop ran " + records.size() + " steps, the reference has " + perStep.size());
        }
        for (int j = 0; j < perStep.size(); j++) {
            JsonNode entry = perStep.get(j);
            if (!entry.isObject()) throw new GoldenFormatException("per_step[" + j + "] must be an object");
            Map<String, Tensor> got = j < records.size() ? records.get(j) : Map.of();
            for (Iterator<Map.Entry<String, JsonNode>> it = entry.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = String.format("step_%03d.%s", j, e.getKey());
                Tensor ref = f.tensor(Ref.parse(e.getValue(), c.file(), c.dir(), "per_step[" + j + "]." + e.getKey()));
                Tensor g = got.get(e.getKey());
                if (g == null) {
                    failed.add(name + " not produced" + (j < records.size() ? " (the step gives " + got.keySet() + ")" : ""));
                    continue;
                }
                Compare.Result r = Compare.compare(name, g, ref, limits);
                compared++;
                if (!r.passed()) failed.add(r.text());
                if (worst == null || !(r.maxAbs() <= worst.maxAbs())) worst = r;
            }
        }
        if (!failed.isEmpty()) {
            int shown = Math.min(3, failed.size());
            String text = "per_step: " + String.join("; ", failed.subList(0, shown))
                    + (failed.size() > shown ? "; and " + (failed.size() - shown) + " more" : "");
            return new Compare.Result("per_step", false, Double.NaN, Double.NaN, text);
        }
        String text = "per_step " + compared + " tensors, worst " + (worst == null ? "none" : worst.text());
        return new Compare.Result("per_step", true, worst == null ? 0 : worst.maxAbs(), worst == null ? 0 : worst.relL2(), text);
    }

    // ---- the case's fields ----

    private static Scheduler scheduler(GoldenCase c) throws IOException {
        String cls = text(c, "scheduler_class");
        return Schedulers.create(cls, config(c));
    }

    private static SchedulerConfig config(GoldenCase c) throws IOException {
        return SchedulerConfig.read(c.dir().resolve(text(c, "scheduler_config")));
    }

    private static String text(GoldenCase c, String field) {
        JsonNode n = c.json().get(field);
        if (n == null || !n.isTextual()) throw new GoldenFormatException("the case has no \"" + field + "\"");
        return n.asText();
    }

    private static int intInput(GoldenCase c, String arg) {
        JsonNode n = c.input(arg);
        if (n == null || !n.isIntegralNumber()) throw new GoldenFormatException("input \"" + arg + "\" must be an integer, is " + n);
        return n.intValue();
    }

    private static boolean has(GoldenCase c, String field) {
        JsonNode n = c.json().get(field);
        return n != null && !n.isNull();
    }

    private static Compare.Result check(CaseFiles f, GoldenCase c, String field, Tensor got, Limits limits) throws IOException {
        return Compare.compare(field, got, f.tensor(Ref.parse(c.json().get(field), c.file(), c.dir(), field)), limits);
    }

    /** noise_keys: one Ref or null per step (null: the reference drew no noise inside that step). */
    private static List<Ref> noiseKeys(GoldenCase c) {
        List<Ref> keys = new ArrayList<>();
        JsonNode n = c.json().get("noise_keys");
        if (n == null || n.isNull()) return keys;
        if (!n.isArray()) throw new GoldenFormatException("\"noise_keys\" must be an array");
        for (int j = 0; j < n.size(); j++) {
            keys.add(n.get(j).isNull() ? null : Ref.parse(n.get(j), c.file(), c.dir(), "noise_keys[" + j + "]"));
        }
        return keys;
    }

    private static Tensor vector(float[] v) {
        return Tensor.of(v.clone(), v.length);
    }

    private static Tensor scalar(float v) {
        return Tensor.of(new float[] {v});
    }

    /**
     * The noise diffusers drew inside step() of the current step (noise_keys), served once. Where
     * nothing was recorded, a draw gets NaNs: diffusers' Euler draws noise that s_churn = 0 leaves
     * unused, and any scheduler that did use such a draw shows up as NaN latents.
     */
    private static final class RecordedNoise implements NoiseSource {
        private int step;
        private Tensor recorded;
        float[] drawn;

        void begin(int step, Tensor recorded) {
            this.step = step;
            this.recorded = recorded;
            this.drawn = null;
        }

        void end() {
            if (recorded != null && drawn == null) {
                throw new IllegalStateException("step " + step + ": the reference drew noise inside step() (noise_keys), the scheduler drew none");
            }
        }

        @Override
        public float[] randn(int... shape) {
            if (recorded == null) {
                float[] nan = new float[Math.toIntExact(Tensor.numel(shape))];
                Arrays.fill(nan, Float.NaN);
                return nan;
            }
            if (drawn != null) throw new IllegalStateException("step " + step + ": the scheduler drew noise twice, the reference once");
            if (!Arrays.equals(shape, recorded.shape())) {
                throw new IllegalStateException("step " + step + ": the scheduler drew noise of shape " + Arrays.toString(shape)
                        + ", the reference " + Arrays.toString(recorded.shape()));
            }
            drawn = recorded.toFloatArray();
            return drawn.clone();
        }
    }
}
