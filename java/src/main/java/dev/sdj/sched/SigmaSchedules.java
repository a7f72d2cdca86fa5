package dev.sdj.sched;

import java.util.Arrays;

/**
 * The numpy arithmetic diffusers' schedulers build their inference schedules with, reproduced so
 * that timesteps come out bit for bit: numpy's linspace/arange/interp in double, the k-diffusion
 * sigma schedule (σ = ((1 − ᾱ)/ᾱ)^½), Karras sigmas and the sigma → timestep inversion. Shared by
 * the sigma-based schedulers (Euler, Euler ancestral, Heun, LMS; DPM-Solver++ uses the same
 * pieces).
 */
public final class SigmaSchedules {
    private SigmaSchedules() {}

    /** The timestep spacings diffusers v0.24.0 knows (Table 2 of arXiv:2305.08891). */
    public static final String LINSPACE = "linspace", LEADING = "leading", TRAILING = "trailing";

    /** The config's timestep_spacing ({@code dflt}: class {@code cls}'s default), refused unless it is one of the three. */
    public static String timestepSpacing(SchedulerConfig c, String cls, String dflt) {
        String s = c.getString("timestep_spacing", dflt);
        if (!s.equals(LINSPACE) && !s.equals(LEADING) && !s.equals(TRAILING)) {
            throw new IllegalArgumentException(c.source() + ": 'timestep_spacing' = " + s + " is not supported by "
                    + cls + " (supported: linspace, leading, trailing)");
        }
        return s;
    }

    /** The config's prediction_type, refused unless it is one of {@code supported}. */
    public static String predictionType(SchedulerConfig c, String cls, String... supported) {
        String p = c.getString("prediction_type", "epsilon");
        if (!Arrays.asList(supported).contains(p)) {
            throw new IllegalArgumentException(c.source() + ": 'prediction_type' = " + p + " is not supported by "
                    + cls + " (supported: " + String.join(", ", supported) + ")");
        }
        return p;
    }

    // ---- numpy ----

    /** np.linspace(start, stop, num) (float64): i·step + start, the last value exactly stop. */
    public static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[num - 1] = stop;
        return y;
    }

    /**
     * np.arange(start, stop, step) with a float step: ceil((stop − start)/step) values start + i·δ,
     * where numpy's fill takes δ = (start + step) − start, which need not equal step.
     */
    public static double[] arange(double start, double stop, double step) {
        int len = (int) Math.max(0, Math.ceil((stop - start) / step));
        double[] y = new double[len];
        if (len == 0) return y;
        double delta = (start + step) - start;
        y[0] = start;
        for (int i = 1; i < len; i++) y[i] = start + i * delta;
        return y;
    }

    /**
     * np.interp(x, arange(len(fp)), fp) in float64: fp at whole x (and beyond the ends), else
     * slope·(x − j) + fp[j] with slope = fp[j+1] − fp[j].
     */
    public static double[] interp(float[] x, float[] fp) {
        double[] out = new double[x.length];
        int last = fp.length - 1;
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            if (Double.isNaN(v)) {
                out[i] = v;
            } else if (v <= 0) {
                out[i] = fp[0];
            } else if (v >= last) {
                out[i] = fp[last];
            } else {
                int j = (int) Math.floor(v);
                double slope = ((double) fp[j + 1] - fp[j]);
                out[i] = j == v ? fp[j] : slope * (v - j) + fp[j];
            }
        }
        return out;
    }

    // ---- sigmas ----

    /**
     * σ per training timestep, ascending (index = timestep): ((1 − ᾱ)/ᾱ) ** 0.5, each operation in
     * float32 as torch does it (pow 0.5 is sqrt).
     */
    public static float[] trainSigmas(float[] alphasCumprod) {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) s[i] = (float) Math.sqrt((1f - alphasCumprod[i]) / alphasCumprod[i]);
        return s;
    }

    /**
     * np.log of a float32 array: float32 results, here correctly rounded. numpy's SIMD float32 log
     * is not (it differs in 190 of SD's 1000 log σ by an ulp on an AVX-512 machine, and depends on
     * the CPU), so fractional Karras timesteps derived from these can differ from diffusers' by an
     * ulp of the timestep (≤ 6e-5); the sigmas do not depend on it.
     */
    public static float[] log(float[] sigmas) {
        float[] out = new float[sigmas.length];
        for (int i = 0; i < out.length; i++) out[i] = (float) Math.log(sigmas[i]);
        return out;
    }

    /**
     * The schedule of Karras et al. (2022), rho 7, in float64: (σmax^(1/ρ) + ramp·(σmin^(1/ρ) −
     * σmax^(1/ρ)))^ρ over np.linspace(0, 1, n). σmin/σmax default to the last and first of
     * {@code inSigmas}; diffusers' Euler and Heun take them from the config's sigma_min/sigma_max when
     * set (pass null otherwise).
     */
    public static double[] karras(double[] inSigmas, int n, Double sigmaMin, Double sigmaMax) {
        double min = sigmaMin != null ? sigmaMin : inSigmas[inSigmas.length - 1];
        double max = sigmaMax != null ? sigmaMax : inSigmas[0];
        double rho = 7.0;
        double[] ramp = linspace(0, 1, n);
        double minInvRho = Math.pow(min, 1 / rho), maxInvRho = Math.pow(max, 1 / rho);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
        return out;
    }

    /**
     * diffusers' _sigma_to_t: the (fractional) training timestep of {@code sigma} by linear
     * interpolation in log σ. {@code logSigmas} is the float32 np.log of the training sigmas; low/high
     * stay float32 (their difference is a float32 subtraction in numpy), the rest is float64.
     */
    public static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        // low_idx = cumsum(dists >= 0).argmax(): the last index whose log σ is ≤ log_sigma (0 if none),
        // clipped so that high_idx = low_idx + 1 exists.
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
        low = Math.min(low, logSigmas.length - 2);
        int high = low + 1;
        float lo = logSigmas[low], hi = logSigmas[high];
        double w = (lo - logSigma) / (double) (lo - hi);
        w = Math.min(Math.max(w, 0), 1);
        return (1 - w) * low + w * high;
    }

    /**
     * The timesteps of the sigma schedulers (float32, descending) for n steps: "linspace"
     * np.linspace(0, T−1, n, dtype=float32); "leading" (arange(n)·(T // n)).round() + steps_offset;
     * "trailing" arange(T, 0, −T/n).round() − 1.
     */
    public static float[] sigmaTimesteps(String spacing, int numTrain, int n, int stepsOffset) {
        float[] t = new float[n];
        switch (spacing) {
            case LINSPACE -> {
                double[] l = linspace(0, numTrain - 1, n);
                for (int i = 0; i < n; i++) t[i] = (float) l[n - 1 - i];
            }
            case LEADING -> {
                int ratio = numTrain / n;
                for (int i = 0; i < n; i++) t[i] = (float) ((long) (n - 1 - i) * ratio) + stepsOffset; // float32 +=
            }
            case TRAILING -> {
                double[] a = arange(numTrain, 0, -((double) numTrain / n));
                t = new float[a.length];
                for (int i = 0; i < a.length; i++) t[i] = (float) Math.rint(a[i]) - 1f; // np.round: half to even
            }
            default -> throw new IllegalArgumentException("timestep_spacing " + spacing);
        }
        return t;
    }

    /**
     * init_noise_sigma of the sigma schedulers: max σ for "linspace"/"trailing", else (max σ² +
     * 1)^½ (float32, as torch computes it on the 0-d tensor).
     */
    public static float initNoiseSigma(float[] sigmas, String spacing) {
        float max = Float.NEGATIVE_INFINITY;
        for (float s : sigmas) max = Math.max(max, s);
        if (spacing.equals(LINSPACE) || spacing.equals(TRAILING)) return max;
        return (float) Math.sqrt(max * max + 1f);
    }

    /**
     * The step index diffusers' add_noise finds for the timestep at index {@code i} of the sigma
     * schedulers (Euler, Euler ancestral, LMS): {@code (schedule_timesteps == t).nonzero().item()},
     * which fails unless exactly one entry equals t.
     */
    public static int uniqueIndex(float[] timesteps, int i, String cls) {
        float t = timesteps[i];
        int found = -1, count = 0;
        for (int j = 0; j < timesteps.length; j++) {
            if (timesteps[j] == t) {
                if (count++ == 0) found = j;
            }
        }
        if (count != 1) {
            throw new IllegalStateException(cls + ".add_noise: timestep " + t + " occurs " + count
                    + " times in the schedule (diffusers' nonzero().item() fails too)");
        }
        return found;
    }

    /** Fails unless {@code i} indexes one of {@code timesteps} (null: set_timesteps not called yet). */
    static void checkIndex(float[] timesteps, int i, String cls) {
        if (timesteps == null) throw new IllegalStateException(cls + ": setTimesteps must be called before sampling");
        if (i < 0 || i >= timesteps.length) {
            throw new IndexOutOfBoundsException(cls + ": step index " + i + " outside the schedule of " + timesteps.length + " timesteps");
        }
    }

    /** x / (σ² + 1)^½ elementwise in float32: the k-diffusion input scaling. */
    static float[] scaleBySigma(float[] sample, float sigma) {
        float d = (float) Math.sqrt(sigma * sigma + 1f);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) out[k] = sample[k] / d;
        return out;
    }

    /** original + noise·σ elementwise in float32: add_noise of the sigma schedulers. */
    static float[] addSigmaNoise(float[] original, float[] noise, float sigma) {
        if (original.length != noise.length) throw new IllegalArgumentException("add_noise: sample and noise sizes differ");
        float[] out = new float[original.length];
        for (int k = 0; k < out.length; k++) out[k] = original[k] + noise[k] * sigma;
        return out;
    }

    /**
     * The x₀ estimate of the k-diffusion schedulers at noise level σ: epsilon x − σ·m; v_prediction
     * m·(−σ/(σ²+1)^½) + x/(σ²+1); sample m (float32, torch's operation order).
     */
    static float[] predOriginal(String prediction, float[] m, float[] x, float sigmaEps, float sigmaV) {
        float[] out = new float[x.length];
        switch (prediction) {
            case "epsilon" -> {
                for (int k = 0; k < out.length; k++) out[k] = x[k] - sigmaEps * m[k];
            }
            case "v_prediction" -> {
                float s2 = sigmaV * sigmaV + 1f;
                float cOut = -sigmaV / (float) Math.sqrt(s2);
                for (int k = 0; k < out.length; k++) out[k] = m[k] * cOut + x[k] / s2;
            }
            case "sample", "original_sample" -> System.arraycopy(m, 0, out, 0, out.length);
            default -> throw new IllegalArgumentException("prediction_type " + prediction);
        }
        return out;
    }
}
