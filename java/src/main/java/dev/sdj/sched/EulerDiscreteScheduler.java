package dev.sdj.sched;

/**
 * diffusers' EulerDiscreteScheduler (v0.24.0) with s_churn = 0, the deterministic Euler sampler of
 * k-diffusion (Karras et al. 2022, Algorithm 2 without churn). Config: num_train_timesteps, beta_*,
 * prediction_type (epsilon, v_prediction, sample), interpolation_type linear, use_karras_sigmas
 * with sigma_min/sigma_max, timestep_spacing (default linspace), steps_offset, timestep_type
 * (discrete, or continuous with v_prediction: timesteps 0.25·ln σ).
 */
public final class EulerDiscreteScheduler extends SigmaScheduler {
    private final boolean karras, continuousTimesteps;
    private final Double sigmaMin, sigmaMax;

    public EulerDiscreteScheduler(SchedulerConfig c) {
        super("EulerDiscreteScheduler", c, "epsilon", "v_prediction", "sample", "original_sample");
        String interpolation = c.getString("interpolation_type", "linear");
        if (!interpolation.equals("linear")) {
            // v0.24.0's log_linear branch builds a torch tensor and then calls torch.from_numpy on it,
            // which raises; there is no working diffusers behaviour to reproduce.
            throw new IllegalArgumentException(c.source() + ": 'interpolation_type' = " + interpolation
                    + " is not supported by sdj's " + className() + " (supported: linear; log_linear fails in diffusers v0.24.0)");
        }
        String timestepType = c.getString("timestep_type", "discrete");
        if (!timestepType.equals("discrete") && !timestepType.equals("continuous")) {
            throw new IllegalArgumentException(c.source() + ": 'timestep_type' = " + timestepType + " is not supported by "
                    + className() + " (supported: discrete, continuous)");
        }
        continuousTimesteps = timestepType.equals("continuous") && prediction.equals("v_prediction");
        karras = c.getBool("use_karras_sigmas", false);
        sigmaMin = optionalSigma(c, "sigma_min");
        sigmaMax = optionalSigma(c, "sigma_max");
    }

    @Override
    public void setTimesteps(int steps) {
        float[] t = spacedTimesteps(steps);
        double[] s = SigmaSchedules.interp(t, trainSigmas);
        if (karras) {
            s = SigmaSchedules.karras(s, steps, sigmaMin, sigmaMax);
            t = timestepsOf(s);
        }
        sigmas = withFinalZero(s);
        if (continuousTimesteps) {
            // torch.Tensor([0.25 * sigma.log() for sigma in sigmas]): float32 log of the float32 sigmas
            t = new float[s.length];
            for (int i = 0; i < s.length; i++) t[i] = 0.25f * (float) Math.log(sigmas[i]);
        }
        timesteps = t;
    }

    /** The Euler step without the noise draw diffusers makes (see the 5-argument step). */
    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        float sigma = sigmas[i];
        // gamma = 0 (s_churn = 0): sigma_hat = sigma * (gamma + 1) = sigma, and no noise is added.
        float sigmaHat = sigma;
        float[] x0 = SigmaSchedules.predOriginal(prediction, modelOutput, sample, sigmaHat, sigma);
        float dt = sigmas[i + 1] - sigmaHat;
        float[] prev = new float[sample.length];
        for (int k = 0; k < prev.length; k++) {
            float derivative = (sample[k] - x0[k]) / sigmaHat;
            prev[k] = sample[k] + derivative * dt;
        }
        return new StepOutput(prev, x0);
    }

    /**
     * diffusers' step() draws randn_tensor(model_output.shape, generator) on every call, even with
     * s_churn = 0 where the noise is unused; drawing it here keeps a seeded stream (one generator for
     * x_T and every step, as pipelines pass it) in step with diffusers.
     */
    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, int[] shape, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        if (noise != null) noise.randn(shape);
        return step(modelOutput, i, sample, noise);
    }
}
