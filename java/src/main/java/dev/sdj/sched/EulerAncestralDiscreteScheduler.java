package dev.sdj.sched;

/**
 * diffusers' EulerAncestralDiscreteScheduler (v0.24.0): k-diffusion's "Euler a". Each step goes
 * down to σ_down deterministically and adds fresh noise of scale σ_up, drawn from the
 * {@link NoiseSource} (so it needs the latents' shape: use the 5-argument step). Config:
 * num_train_timesteps, beta_*, prediction_type (epsilon, v_prediction), timestep_spacing (default
 * linspace), steps_offset. This class has no Karras option in diffusers v0.24.0.
 */
public final class EulerAncestralDiscreteScheduler extends SigmaScheduler {

    /** prediction_type sample is refused, as diffusers does ("not implemented yet"). */
    public EulerAncestralDiscreteScheduler(SchedulerConfig c) {
        super("EulerAncestralDiscreteScheduler", c, "epsilon", "v_prediction");
    }

    @Override
    public void setTimesteps(int steps) {
        float[] t = spacedTimesteps(steps);
        double[] s = SigmaSchedules.interp(t, trainSigmas);
        sigmas = withFinalZero(s);
        timesteps = t;
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
}
