package dev.sdj.sched;

/**
 * diffusers' DDIMScheduler (v0.24.0) with eta = 0, the deterministic sampler pipelines use by
 * default. Config: num_train_timesteps, beta_*, set_alpha_to_one, steps_offset, prediction_type
 * (epsilon, v_prediction, sample), clip_sample and clip_sample_range, timestep_spacing (leading,
 * linspace, trailing). thresholding, rescale_betas_zero_snr and trained_betas are refused.
 * Arithmetic is float32 in torch's operation order.
 */
public final class DDIMScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final float[] alphasCumprod;
    private final int numTrain, stepsOffset;
    private final String spacing, prediction;
    private final boolean clipSample;
    private final float clipRange;
    /** "For the final step there is no previous alphas_cumprod": 1 with set_alpha_to_one, else ᾱ[0]. */
    private final float finalAlphaCumprod;

    private int numInferenceSteps;
    private float[] timesteps;

    public DDIMScheduler(SchedulerConfig c) {
        config = c;
        alphasCumprod = TrainSchedule.of(c, true).alphasCumprod();
        numTrain = c.getInt("num_train_timesteps", 1000);
        stepsOffset = c.getInt("steps_offset", 0);
        spacing = SigmaSchedules.timestepSpacing(c, className(), SigmaSchedules.LEADING);
        prediction = SigmaSchedules.predictionType(c, className(), "epsilon", "v_prediction", "sample");
        clipSample = c.getBool("clip_sample", true);
        clipRange = (float) c.getDouble("clip_sample_range", 1.0);
        if (c.getBool("thresholding", false)) {
            throw new IllegalArgumentException(c.source() + ": 'thresholding' = true (dynamic thresholding) is not implemented by sdj's "
                    + className());
        }
        finalAlphaCumprod = c.getBool("set_alpha_to_one", true) ? 1f : alphasCumprod[0];
    }

    @Override
    public String className() {
        return "DDIMScheduler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public void setTimesteps(int steps) {
        if (steps < 1 || steps > numTrain) {
            throw new IllegalArgumentException(className() + ": steps must be 1.." + numTrain + " (num_train_timesteps), is " + steps);
        }
        numInferenceSteps = steps;
        float[] t;
        switch (spacing) {
            case SigmaSchedules.LINSPACE -> {
                // np.linspace(0, T-1, n).round()[::-1].astype(int64); np.round rounds halves to even
                double[] l = SigmaSchedules.linspace(0, numTrain - 1, steps);
                t = new float[steps];
                for (int i = 0; i < steps; i++) t[i] = (float) Math.rint(l[steps - 1 - i]);
            }
            case SigmaSchedules.LEADING -> {
                int ratio = numTrain / steps;
                t = new float[steps];
                for (int i = 0; i < steps; i++) t[i] = (steps - 1 - i) * ratio + stepsOffset;
            }
            default -> {
                // np.round(np.arange(T, 0, -T/n)).astype(int64) - 1
                double[] a = SigmaSchedules.arange(numTrain, 0, -((double) numTrain / steps));
                t = new float[a.length];
                for (int i = 0; i < a.length; i++) t[i] = (float) (Math.rint(a[i]) - 1);
            }
        }
        timesteps = t;
    }

    @Override
    public float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public float[] sigmas() {
        return null;
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public float[] scaleModelInput(float[] sample, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return sample.clone();
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        int t = (int) timesteps[i];
        // diffusers steps back by T // n whatever the spacing (so "linspace"/"trailing" can look
        // up a previous timestep that is not the next one in the schedule); reproduced as is.
        int prevT = t - numTrain / numInferenceSteps;
        float aT = alphasCumprod[t];
        float aPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod;
        float bT = 1f - aT;
        float sqrtA = (float) Math.sqrt(aT), sqrtB = (float) Math.sqrt(bT);
        int n = sample.length;
        float[] x0 = new float[n], eps = new float[n];
        for (int k = 0; k < n; k++) {
            float m = modelOutput[k], x = sample[k];
            switch (prediction) {
                case "epsilon" -> {
                    x0[k] = (x - sqrtB * m) / sqrtA;
                    eps[k] = m;
                }
                case "sample" -> {
                    x0[k] = m;
                    eps[k] = (x - sqrtA * m) / sqrtB;
                }
                default -> { // v_prediction
                    x0[k] = sqrtA * x - sqrtB * m;
                    eps[k] = sqrtA * m + sqrtB * x;
                }
            }
            if (clipSample) x0[k] = Math.min(Math.max(x0[k], -clipRange), clipRange);
        }
        // eta = 0: std_dev_t = 0, so the direction is (1 − ᾱ_prev − 0)^½ · ε and no noise is drawn.
        float dirCoeff = (float) Math.sqrt((1f - aPrev) - 0f);
        float sqrtAPrev = (float) Math.sqrt(aPrev);
        float[] prev = new float[n];
        for (int k = 0; k < n; k++) prev[k] = sqrtAPrev * x0[k] + dirCoeff * eps[k];
        return new StepOutput(prev, x0);
    }

    /** DDPMScheduler.add_noise: ᾱ_t^½·x₀ + (1 − ᾱ_t)^½·noise at the timestep of index i. */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return alphaNoise(alphasCumprod, (int) timesteps[i], original, noise);
    }

    static float[] alphaNoise(float[] alphasCumprod, int t, float[] original, float[] noise) {
        if (original.length != noise.length) throw new IllegalArgumentException("add_noise: sample and noise sizes differ");
        float a = alphasCumprod[t];
        float sqrtA = (float) Math.sqrt(a), sqrtOneMinus = (float) Math.sqrt(1f - a);
        float[] out = new float[original.length];
        for (int k = 0; k < out.length; k++) out[k] = sqrtA * original[k] + sqrtOneMinus * noise[k];
        return out;
    }
}
