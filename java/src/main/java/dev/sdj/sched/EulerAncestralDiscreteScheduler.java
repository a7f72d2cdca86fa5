package dev.sdj.sched;

/**
 * diffusers' EulerAncestralDiscreteScheduler (v0.24.0): k-diffusion's "Euler a". Each step goes
 * down to σ_down deterministically and adds fresh noise of scale σ_up, drawn from the
 * {@link NoiseSource} (so it needs the latents' shape: use the 5-argument step). Config:
 * num_train_timesteps, beta_*, prediction_type (epsilon, v_prediction), timestep_spacing (default
 * linspace), steps_offset. This class has no Karras option in diffusers v0.24.0.
 */
public final class EulerAncestralDiscreteScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final float[] trainSigmas;
    private final int numTrain, stepsOffset;
    private final String spacing, prediction;

    private float[] timesteps, sigmas;

    public EulerAncestralDiscreteScheduler(SchedulerConfig c) {
        config = c;
        trainSigmas = SigmaSchedules.trainSigmas(TrainSchedule.of(c, false).alphasCumprod());
        numTrain = c.getInt("num_train_timesteps", 1000);
        stepsOffset = c.getInt("steps_offset", 0);
        spacing = SigmaSchedules.timestepSpacing(c, className(), SigmaSchedules.LINSPACE);
        // diffusers: "prediction_type not implemented yet: sample"
        prediction = SigmaSchedules.predictionType(c, className(), "epsilon", "v_prediction");
    }

    @Override
    public String className() {
        return "EulerAncestralDiscreteScheduler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public void setTimesteps(int steps) {
        if (steps < 1) throw new IllegalArgumentException(className() + ": steps must be ≥ 1, is " + steps);
        float[] t = SigmaSchedules.sigmaTimesteps(spacing, numTrain, steps, stepsOffset);
        double[] s = SigmaSchedules.interp(t, trainSigmas);
        sigmas = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sigmas[i] = (float) s[i];
        timesteps = t;
    }

    @Override
    public float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public float initNoiseSigma() {
        return SigmaSchedules.initNoiseSigma(sigmas, spacing);
    }

    @Override
    public float[] scaleModelInput(float[] sample, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return SigmaSchedules.scaleBySigma(sample, sigmas[i]);
    }

    /** Refused: the step draws noise of the latents' NCHW shape, which only the 5-argument step knows. */
    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        throw new UnsupportedOperationException(className() + " draws noise in every step: call step(modelOutput, i, sample, shape, noise) "
                + "with the latents' NCHW shape");
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, int[] shape, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        if (noise == null) throw new IllegalArgumentException(className() + ": step needs a NoiseSource");
        float sigma = sigmas[i];
        float[] x0 = SigmaSchedules.predOriginal(prediction, modelOutput, sample, sigma, sigma);
        float from = sigmas[i], to = sigmas[i + 1];
        // sigma_up = (σ_to² (σ_from² − σ_to²) / σ_from²)^½, sigma_down = (σ_to² − σ_up²)^½ (float32)
        float up = (float) Math.sqrt(to * to * (from * from - to * to) / (from * from));
        float down = (float) Math.sqrt(to * to - up * up);
        float dt = down - sigma;
        // randn_tensor(model_output.shape, generator=generator) after the deterministic part
        float[] z = noise.randn(shape);
        if (z.length != sample.length) {
            throw new IllegalArgumentException(className() + ": the NoiseSource gave " + z.length + " values for " + sample.length + " latents");
        }
        float[] prev = new float[sample.length];
        for (int k = 0; k < prev.length; k++) {
            float derivative = (sample[k] - x0[k]) / sigma;
            float p = sample[k] + derivative * dt;
            prev[k] = p + z[k] * up;
        }
        return new StepOutput(prev, x0);
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return SigmaSchedules.addSigmaNoise(original, noise, sigmas[SigmaSchedules.uniqueIndex(timesteps, i, className())]);
    }
}
