package dev.sdj.sched;

/**
 * diffusers v0.24.0 LCMScheduler, for latent consistency models (LCM-distilled U-Nets and LCM
 * LoRAs): every step maps the latents straight to a denoised estimate through the consistency
 * boundary condition (c_skip, c_out), then re-noises that estimate to the next timestep with fresh
 * noise; the last step returns the estimate itself.
 *
 * <p>The timesteps come from the distillation schedule (original_inference_steps, 50 by default),
 * not from timestep_spacing or steps_offset, which LCM ignores. Scalars are float32 as in torch.
 */
public final class LCMScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final TrainSchedule train;
    private final int originalSteps;
    private final float timestepScaling;
    private final String prediction;
    private final boolean clipSample;
    private final float clipRange;
    private final float finalAlphaCumprod;

    private float[] timesteps;
    private int[] timestepInts; // the same, as indices into alphas_cumprod

    public LCMScheduler(SchedulerConfig config) {
        this.config = config;
        // LCM's own defaults (beta_start 0.00085, beta_end 0.012, scaled_linear) differ from the
        // other schedulers'; TrainSchedule reads the keys with the generic defaults, so fill them in.
        SchedulerConfig c = config;
        if (!c.has("beta_start")) c = c.with("beta_start", 0.00085);
        if (!c.has("beta_end")) c = c.with("beta_end", 0.012);
        if (!c.has("beta_schedule")) c = c.with("beta_schedule", "scaled_linear");
        this.train = TrainSchedule.of(c);
        this.originalSteps = config.getInt("original_inference_steps", 50);
        this.timestepScaling = (float) config.getDouble("timestep_scaling", 10.0);
        this.prediction = config.getString("prediction_type", "epsilon");
        if (!prediction.equals("epsilon") && !prediction.equals("v_prediction") && !prediction.equals("sample")) {
            throw new IllegalArgumentException(config.source() + ": 'prediction_type' = " + prediction
                    + " is not implemented by sdj's LCMScheduler (supported: epsilon, v_prediction, sample)");
        }
        config.require("thresholding", config.getBool("thresholding", false), false);
        this.clipSample = config.getBool("clip_sample", false);
        this.clipRange = (float) config.getDouble("clip_sample_range", 1.0);
        // Only reached by a step whose next timestep is negative, which the standard schedule never has.
        this.finalAlphaCumprod = config.getBool("set_alpha_to_one", true) ? 1f : train.alphasCumprod()[0];
        int numTrain = train.alphasCumprod().length;
        if (originalSteps < 1 || originalSteps > numTrain) {
            throw new IllegalArgumentException(config.source() + ": 'original_inference_steps' = " + originalSteps
                    + " must be between 1 and num_train_timesteps (" + numTrain + ")");
        }
    }

    @Override
    public String className() {
        return "LCMScheduler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public void setTimesteps(int steps) {
        int numTrain = train.alphasCumprod().length;
        if (steps < 1) throw new IllegalArgumentException("the number of inference steps must be at least 1, got " + steps);
        if (steps > originalSteps) {
            throw new IllegalArgumentException("LCMScheduler: " + steps + " steps cannot be more than original_inference_steps ("
                    + originalSteps + "): the schedule is a subset of the " + originalSteps + "-step distillation schedule");
        }
        // lcm_origin_timesteps = [1..original_steps] * k - 1 with k = num_train // original_steps, reversed;
        // then np.floor(np.linspace(0, original_steps, steps, endpoint=False)) picks evenly spaced entries.
        int k = numTrain / originalSteps;
        double spacing = (double) originalSteps / steps;
        timesteps = new float[steps];
        timestepInts = new int[steps];
        for (int i = 0; i < steps; i++) {
            int idx = (int) Math.floor(i * spacing);
            int t = (originalSteps - idx) * k - 1;
            timestepInts[i] = t;
            timesteps[i] = t;
        }
    }

    @Override
    public float[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    @Override
    public float[] sigmas() {
        return null; // LCM is alpha-based
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public int order() {
        return 1; // diffusers: class attribute order = 1
    }

    @Override
    public float[] scaleModelInput(float[] sample, int i) {
        return sample; // LCM feeds the latents unscaled
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        // Without the NCHW shape: torch draws the same values for any shape of the same size.
        return step(modelOutput, i, sample, new int[] {sample.length}, noise);
    }

    /**
     * One step, with the sample's NCHW shape for the noise drawn at every step but the last (as
     * diffusers' randn_tensor(model_output.shape)). predOriginalSample is LCM's "denoised", which a
     * pipeline decodes after the last step.
     */
    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, int[] shape, NoiseSource noise) {
        requireTimesteps();
        int n = timesteps.length;
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("step index " + i + " outside 0.." + (n - 1));
        if (modelOutput.length != sample.length) {
            throw new IllegalArgumentException("model output has " + modelOutput.length + " values, sample " + sample.length);
        }
        if (i != n - 1 && noise == null) {
            throw new IllegalArgumentException("LCMScheduler draws noise at every step but the last: pass a NoiseSource");
        }
        float[] ac = train.alphasCumprod();
        int t = timestepInts[i];
        // The last step's "previous" timestep is its own (its noise term is not used).
        int prevT = i + 1 < n ? timestepInts[i + 1] : t;
        float alphaProdT = ac[t];
        float alphaProdPrev = prevT >= 0 ? ac[prevT] : finalAlphaCumprod;
        float betaProdT = 1f - alphaProdT, betaProdPrev = 1f - alphaProdPrev;

        // get_scalings_for_boundary_condition_discrete, on the int64 timestep tensor (float32 result):
        // c_skip = 0.25 / (s² + 0.25) (torch: reciprocal then × 0.25), c_out = s / (s² + 0.25) ** 0.5, s = t · 10
        float scaled = (float) t * timestepScaling;
        float q = scaled * scaled + 0.25f;
        float cSkip = (1f / q) * 0.25f;
        float cOut = scaled / (float) Math.sqrt(q);

        float sqrtA = (float) Math.sqrt(alphaProdT), sqrtB = (float) Math.sqrt(betaProdT);
        float[] denoised = new float[sample.length];
        for (int k = 0; k < denoised.length; k++) {
            float x0 = switch (prediction) {
                case "epsilon" -> (sample[k] - sqrtB * modelOutput[k]) / sqrtA;
                case "v_prediction" -> sqrtA * sample[k] - sqrtB * modelOutput[k];
                default -> modelOutput[k]; // "sample"
            };
            if (clipSample) x0 = Math.max(-clipRange, Math.min(clipRange, x0));
            denoised[k] = cOut * x0 + cSkip * sample[k];
        }

        // "Noise is not used on the final timestep of the timestep schedule."
        float[] prev;
        if (i != n - 1) {
            float[] z = noise.randn(shape);
            if (z.length != sample.length) {
                throw new IllegalArgumentException("noise source gave " + z.length + " values for " + sample.length);
            }
            float a = (float) Math.sqrt(alphaProdPrev), b = (float) Math.sqrt(betaProdPrev);
            prev = new float[sample.length];
            for (int k = 0; k < prev.length; k++) prev[k] = a * denoised[k] + b * z[k];
        } else {
            prev = denoised.clone();
        }
        return new StepOutput(prev, denoised);
    }

    /** add_noise (DDPM's): sqrt(ᾱ_t) · original + sqrt(1 − ᾱ_t) · noise at the timestep of step {@code i}. */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        requireTimesteps();
        float ac = train.alphasCumprod()[timestepInts[i]];
        float a = (float) Math.sqrt(ac), b = (float) Math.sqrt(1f - ac);
        float[] out = new float[original.length];
        for (int k = 0; k < out.length; k++) out[k] = a * original[k] + b * noise[k];
        return out;
    }

    private void requireTimesteps() {
        if (timesteps == null) throw new IllegalStateException("LCMScheduler: call setTimesteps first");
    }
}
