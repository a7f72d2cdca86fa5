package dev.sdj.sched;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * diffusers' HeunDiscreteScheduler (v0.24.0): k-diffusion's Heun sampler (Karras et al. 2022,
 * Algorithm 1), two model calls per step. n steps give 2n − 1 timesteps [t0, t1, t1, ..., t_n−1,
 * t_n−1] and 2n sigmas [σ0, σ1, σ1, ..., σ_n−1, σ_n−1, 0]: an Euler step to the next σ, then the
 * correction that averages both slopes; the last step is a plain Euler step to 0. Config:
 * num_train_timesteps, beta_*, prediction_type (epsilon, v_prediction, sample), clip_sample and
 * clip_sample_range, use_karras_sigmas (with sigma_min/sigma_max when the config has them),
 * timestep_spacing (default linspace), steps_offset.
 */
public final class HeunDiscreteScheduler extends SigmaScheduler {
    private final boolean karras, clipSample;
    private final float clipRange;
    private final Double sigmaMin, sigmaMax;

    // Between the two halves of a step: the first half's slope, step size and starting sample
    // (dt == NaN: the next call is a first half, diffusers' state_in_first_order).
    private float[] prevDerivative, firstSample;
    private float dt = Float.NaN;
    // diffusers' _index_counter: step() calls per timestep value, which add_noise's
    // index_for_timestep consults once sampling has begun.
    private final Map<Float, Integer> indexCounter = new HashMap<>();

    public HeunDiscreteScheduler(SchedulerConfig c) {
        super("HeunDiscreteScheduler", c, "epsilon", "v_prediction", "sample");
        karras = c.getBool("use_karras_sigmas", false);
        clipSample = c.getBool("clip_sample", false);
        clipRange = (float) c.getDouble("clip_sample_range", 1.0);
        // _convert_to_karras reads sigma_min/sigma_max where the config has them (hasattr), even
        // though Heun's constructor does not take them.
        sigmaMin = optionalSigma(c, "sigma_min");
        sigmaMax = optionalSigma(c, "sigma_max");
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    public void setTimesteps(int steps) {
        float[] t = spacedTimesteps(steps);
        double[] s = SigmaSchedules.interp(t, trainSigmas);
        if (karras) {
            s = SigmaSchedules.karras(s, steps, sigmaMin, sigmaMax);
            t = timestepsOf(s);
        }
        int m = s.length;
        // sigmas = cat([σ[:1], σ[1:-1].repeat_interleave(2), σ[-1:]]) over σ with its final 0
        float[] withZero = withFinalZero(s);
        sigmas = new float[2 * m];
        sigmas[0] = withZero[0];
        for (int i = 1; i < m; i++) sigmas[2 * i - 1] = sigmas[2 * i] = withZero[i];
        sigmas[2 * m - 1] = withZero[m];
        // timesteps = cat([t[:1], t[1:].repeat_interleave(2)])
        timesteps = new float[2 * m - 1];
        timesteps[0] = t[0];
        for (int i = 1; i < m; i++) timesteps[2 * i - 1] = timesteps[2 * i] = t[i];
        prevDerivative = null;
        firstSample = null;
        dt = Float.NaN;
        indexCounter.clear();
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        indexCounter.merge(timesteps[i], 1, Integer::sum);
        boolean firstOrder = Float.isNaN(dt);
        float sigma = firstOrder ? sigmas[i] : sigmas[i - 1];
        float sigmaNext = firstOrder ? sigmas[i + 1] : sigmas[i];
        float sigmaHat = sigma; // gamma = 0
        // The x₀ estimate uses σ_hat in the first half and σ_next (where the sample now is) in the second.
        float sigmaInput = firstOrder ? sigmaHat : sigmaNext;
        float[] x0 = SigmaSchedules.predOriginal(prediction, modelOutput, sample, sigmaInput, sigmaInput);
        if (clipSample) {
            for (int k = 0; k < x0.length; k++) x0[k] = Math.min(Math.max(x0[k], -clipRange), clipRange);
        }
        int n = sample.length;
        float[] derivative = new float[n], from;
        float stepDt;
        if (firstOrder) {
            for (int k = 0; k < n; k++) derivative[k] = (sample[k] - x0[k]) / sigmaHat;
            stepDt = sigmaNext - sigmaHat;
            prevDerivative = derivative;
            dt = stepDt;
            firstSample = sample.clone();
            from = sample;
        } else {
            for (int k = 0; k < n; k++) {
                float d = (sample[k] - x0[k]) / sigmaNext;
                derivative[k] = (prevDerivative[k] + d) / 2;
            }
            stepDt = dt;
            from = firstSample;
            prevDerivative = null;
            firstSample = null;
            dt = Float.NaN;
        }
        float[] prev = new float[n];
        for (int k = 0; k < n; k++) prev[k] = from[k] + derivative[k] * stepDt;
        return new StepOutput(prev, null);
    }

    /**
     * add_noise with index_for_timestep: of the entries equal to the timestep at index i, the
     * second (if there are two) before sampling starts, else the one given by how many steps were
     * taken at that timestep.
     */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        float t = timesteps[i];
        List<Integer> indices = new ArrayList<>();
        for (int j = 0; j < timesteps.length; j++) if (timesteps[j] == t) indices.add(j);
        int pos = indexCounter.isEmpty() ? (indices.size() > 1 ? 1 : 0) : indexCounter.getOrDefault(t, 0);
        if (pos >= indices.size()) {
            throw new IllegalStateException(className() + ".add_noise: timestep " + t + " has no entry " + pos
                    + " in the schedule (diffusers' index_for_timestep fails too)");
        }
        return SigmaSchedules.addSigmaNoise(original, noise, sigmas[indices.get(pos)]);
    }
}
