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
public final class LMSDiscreteScheduler implements Scheduler {
    /** step()'s default order in diffusers (pipelines do not pass another). */
    public static final int ORDER = 4;

    // 4-point Gauss–Legendre nodes and weights on [−1, 1].
    private static final double[] GL_X = {
        -Math.sqrt(3.0 / 7 + 2.0 / 7 * Math.sqrt(6.0 / 5)), -Math.sqrt(3.0 / 7 - 2.0 / 7 * Math.sqrt(6.0 / 5)),
        Math.sqrt(3.0 / 7 - 2.0 / 7 * Math.sqrt(6.0 / 5)), Math.sqrt(3.0 / 7 + 2.0 / 7 * Math.sqrt(6.0 / 5))};
    private static final double[] GL_W = {
        (18 - Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 - Math.sqrt(30)) / 36};

    private final SchedulerConfig config;
    private final float[] trainSigmas;
    private final int numTrain, stepsOffset;
    private final String spacing, prediction;
    private final boolean karras;

    private float[] timesteps, sigmas;
    private final List<float[]> derivatives = new ArrayList<>();

    public LMSDiscreteScheduler(SchedulerConfig c) {
        config = c;
        trainSigmas = SigmaSchedules.trainSigmas(TrainSchedule.of(c, false).alphasCumprod());
        numTrain = c.getInt("num_train_timesteps", 1000);
        stepsOffset = c.getInt("steps_offset", 0);
        spacing = SigmaSchedules.timestepSpacing(c, className(), SigmaSchedules.LINSPACE);
        prediction = SigmaSchedules.predictionType(c, className(), "epsilon", "v_prediction", "sample");
        karras = c.getBool("use_karras_sigmas", false);
    }

    @Override
    public String className() {
        return "LMSDiscreteScheduler";
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
        if (karras) {
            // LMS's copy of _convert_to_karras ignores the config's sigma_min/sigma_max.
            s = SigmaSchedules.karras(s, steps, null, null);
            float[] logSigmas = SigmaSchedules.log(trainSigmas);
            t = new float[s.length];
            for (int i = 0; i < s.length; i++) t[i] = (float) SigmaSchedules.sigmaToT(s[i], logSigmas);
        }
        sigmas = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sigmas[i] = (float) s[i];
        timesteps = t;
        derivatives.clear();
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

    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return SigmaSchedules.addSigmaNoise(original, noise, sigmas[SigmaSchedules.uniqueIndex(timesteps, i, className())]);
    }
}
