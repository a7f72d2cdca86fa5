package dev.sdj.sched;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' LMSDiscreteScheduler (v0.24.0): k-diffusion's linear multistep sampler of order 4.
 * Config: num_train_timesteps, beta_*, prediction_type (epsilon, v_prediction, sample),
 * timestep_spacing (default linspace), steps_offset, use_karras_sigmas.
 *
 * <p>The multistep coefficients are integrals of Lagrange basis polynomials over [σ_i, σ_i+1].
 * diffusers evaluates them with scipy.integrate.quad; the integrands are polynomials of degree ≤ 3,
 * which 4-point Gauss–Legendre integrates exactly (up to rounding), so no adaptive quadrature is needed.
 */
public final class LMSDiscreteScheduler extends SigmaScheduler {
    /** step()'s default order in diffusers (pipelines do not pass another). */
    public static final int ORDER = 4;

    // 4-point Gauss–Legendre nodes and weights on [−1, 1].
    private static final double[] GL_X = {
        -Math.sqrt(3.0 / 7 + 2.0 / 7 * Math.sqrt(6.0 / 5)), -Math.sqrt(3.0 / 7 - 2.0 / 7 * Math.sqrt(6.0 / 5)),
        Math.sqrt(3.0 / 7 - 2.0 / 7 * Math.sqrt(6.0 / 5)), Math.sqrt(3.0 / 7 + 2.0 / 7 * Math.sqrt(6.0 / 5))};
    private static final double[] GL_W = {
        (18 - Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 - Math.sqrt(30)) / 36};

    private final boolean karras;

    private final List<float[]> derivatives = new ArrayList<>();

    public LMSDiscreteScheduler(SchedulerConfig c) {
        super("LMSDiscreteScheduler", c, "epsilon", "v_prediction", "sample");
        karras = c.getBool("use_karras_sigmas", false);
    }

    @Override
    public void setTimesteps(int steps) {
        float[] t = spacedTimesteps(steps);
        double[] s = SigmaSchedules.interp(t, trainSigmas);
        if (karras) {
            // LMS's copy of _convert_to_karras ignores the config's sigma_min/sigma_max.
            s = SigmaSchedules.karras(s, steps, null, null);
            t = timestepsOf(s);
        }
        sigmas = withFinalZero(s);
        timesteps = t;
        derivatives.clear();
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        float sigma = sigmas[i];
        float[] x0 = SigmaSchedules.predOriginal(prediction, modelOutput, sample, sigma, sigma);
        float[] d = new float[sample.length];
        for (int k = 0; k < d.length; k++) d[k] = (sample[k] - x0[k]) / sigma;
        derivatives.add(d);
        if (derivatives.size() > ORDER) derivatives.remove(0);
        // order = min(step_index + 1, 4): from the step index, not from the history, so a run that
        // starts mid-schedule (img2img) uses order-4 coefficients with fewer derivatives; the
        // zip(lms_coeffs, reversed(derivatives)) below then stops at the shorter list, as in Python.
        int order = Math.min(i + 1, ORDER);
        int terms = Math.min(order, derivatives.size());
        float[] sum = null;
        for (int j = 0; j < terms; j++) {
            // coeff * derivative: the Python float is rounded to float32 by torch, then sum() adds
            // the products in order (0 + first, + second, ...).
            float coeff = (float) lmsCoefficient(order, i, j);
            float[] dj = derivatives.get(derivatives.size() - 1 - j);
            if (sum == null) {
                sum = new float[dj.length];
                for (int k = 0; k < sum.length; k++) sum[k] = coeff * dj[k];
            } else {
                for (int k = 0; k < sum.length; k++) sum[k] = sum[k] + coeff * dj[k];
            }
        }
        float[] prev = new float[sample.length];
        for (int k = 0; k < prev.length; k++) prev[k] = sample[k] + sum[k];
        return new StepOutput(prev, x0);
    }

    /**
     * get_lms_coefficient: ∫ from σ_t to σ_t+1 of Π_{k≠cur, k<order} (τ − σ_{t−k}) / (σ_{t−cur} − σ_{t−k}) dτ.
     */
    double lmsCoefficient(int order, int t, int current) {
        double a = sigmas[t], b = sigmas[t + 1];
        double half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
        for (int q = 0; q < GL_X.length; q++) {
            double tau = mid + half * GL_X[q], prod = 1;
            for (int k = 0; k < order; k++) {
                if (k == current) continue;
                prod *= (tau - sigmas[t - k]) / ((double) sigmas[t - current] - sigmas[t - k]);
            }
            sum += GL_W[q] * prod;
        }
        return sum * half;
    }
}
