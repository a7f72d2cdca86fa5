package dev.sdj.sched;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;

/**
 * The {@code set_timesteps} that diffusers v0.24.0's DPMSolverMultistepScheduler and
 * UniPCMultistepScheduler share (timestep spacing, the sigma table, Karras sigmas), and their
 * {@code _sigma_to_alpha_sigma_t}. The NumPy parts follow numpy 1.24 (what produced the goldens),
 * float32 where numpy or torch computes in float32.
 */
final class MultistepSigmas {
    private MultistepSigmas() {}

    /**
     * A schedule: integer timesteps (diffusers' int64) and float32 sigmas, one more than timesteps.
     * There is one timestep per step, except for trailing spacing at some step counts (see there).
     */
    record Schedule(long[] timesteps, float[] sigmas) {}

    /**
     * The schedule for {@code steps} steps. {@code lastTimestep} is where the spacing starts: DPM's
     * lambda_min_clipped may lower it, UniPC always uses num_train_timesteps.
     */
    static Schedule build(SchedulerConfig c, TrainSchedule train, int steps, int lastTimestep) {
        if (steps < 1) throw new IllegalArgumentException("the number of inference steps must be at least 1, got " + steps);
        int n = train.alphasCumprod().length;
        long[] timesteps = spacedTimesteps(c, steps, lastTimestep, n);

        // sigmas = np.array(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5): torch float32
        float[] trainSigmas = trainSigmas(train);
        float[] sigmas;
        if (c.getBool("use_karras_sigmas", false)) {
            // log_sigmas = np.log(sigmas), float32; the karras sigmas replace the spaced timesteps entirely.
            float[] logSigmas = new float[n];
            for (int i = 0; i < n; i++) logSigmas[i] = (float) Math.log(trainSigmas[i]);
            double[] karras = karras(trainSigmas[0], trainSigmas[n - 1], steps);
            timesteps = new long[steps];
            for (int i = 0; i < steps; i++) timesteps[i] = (long) Math.rint(sigmaToT(karras[i], logSigmas));
            // np.concatenate([sigmas, sigmas[-1:]]): v0.24 ends on sigma_min repeated, not on 0.
            sigmas = new float[steps + 1];
            for (int i = 0; i < steps; i++) sigmas[i] = (float) karras[i];
            sigmas[steps] = sigmas[steps - 1];
        } else {
            // np.interp at integer timesteps is the table entry itself (clamped at the ends, which
            // trailing's stray -1 reaches). The last sigma is ((1 - alphas_cumprod[0]) / alphas_cumprod[0]) ** 0.5,
            // not 0: v0.24 has no final_sigmas_type.
            int len = timesteps.length;
            sigmas = new float[len + 1];
            for (int i = 0; i < len; i++) sigmas[i] = trainSigmas[(int) Math.max(0, Math.min(n - 1, timesteps[i]))];
            sigmas[len] = trainSigmas[0];
        }
        return new Schedule(timesteps, sigmas);
    }

    /** Fails, naming the option, on a timestep_spacing sdj lacks (diffusers would only fail in set_timesteps). */
    static void checkSpacing(SchedulerConfig c) {
        String spacing = c.getString("timestep_spacing", "linspace");
        if (!spacing.equals("linspace") && !spacing.equals("leading") && !spacing.equals("trailing")) {
            throw new IllegalArgumentException(c.source() + ": 'timestep_spacing' = " + spacing
                    + " is not implemented by sdj's " + c.className() + " (supported: linspace, leading, trailing)");
        }
    }

    /** timestep_spacing "linspace", "leading" or "trailing" (Table 2 of arXiv:2305.08891), as numpy computes it. */
    static long[] spacedTimesteps(SchedulerConfig c, int steps, int lastTimestep, int numTrain) {
        String spacing = c.getString("timestep_spacing", "linspace");
        long[] t = new long[steps];
        switch (spacing) {
            case "linspace" -> {
                // np.linspace(0, last - 1, steps + 1).round()[::-1][:-1]: y[i] = i * step, y[-1] = stop
                double stop = lastTimestep - 1, step = stop / steps;
                for (int i = 0; i < steps; i++) {
                    int k = steps - i; // reversed, the first element (0) dropped
                    double y = k == steps ? stop : k * step;
                    t[i] = (long) Math.rint(y); // numpy rounds half to even
                }
            }
            case "leading" -> {
                // (np.arange(0, steps + 1) * (last // (steps + 1)))[::-1][:-1] + steps_offset
                long ratio = lastTimestep / (steps + 1);
                int offset = c.getInt("steps_offset", 0);
                for (int i = 0; i < steps; i++) t[i] = (long) (steps - i) * ratio + offset;
            }
            case "trailing" -> {
                // np.arange(last, 0, -num_train / steps).round() - 1. numpy's float arange has
                // ceil((stop - start) / step) elements, start + i * delta with delta = (start + step) - start.
                // For some step counts (61, 103, 121, ...) that is one more than asked, ending in
                // round(~1e-12) - 1 = -1; diffusers then runs steps + 1 steps, and so does sdj.
                double ratio = (double) numTrain / steps;
                int len = (int) Math.ceil((0 - (double) lastTimestep) / -ratio);
                double delta = (lastTimestep - ratio) - lastTimestep;
                t = new long[len];
                for (int i = 0; i < len; i++) t[i] = (long) Math.rint(lastTimestep + i * delta) - 1;
            }
            default -> throw new IllegalArgumentException(c.source() + ": 'timestep_spacing' = " + spacing
                    + " is not implemented by sdj's " + c.className() + " (supported: linspace, leading, trailing)");
        }
        return t;
    }

    /** ((1 − ᾱ) / ᾱ)^0.5 per train timestep, in float32 as torch computes it. */
    static float[] trainSigmas(TrainSchedule train) {
        float[] ac = train.alphasCumprod();
        float[] s = new float[ac.length];
        for (int i = 0; i < ac.length; i++) s[i] = (float) Math.sqrt((1f - ac[i]) / ac[i]);
        return s;
    }

    /**
     * _convert_to_karras (rho 7) in float64: sigmaMin/sigmaMax are the float32 table ends, the
     * ramp is np.linspace(0, 1, steps).
     */
    static double[] karras(double sigmaMin, double sigmaMax, int steps) {
        double rho = 7.0;
        double minInvRho = Math.pow(sigmaMin, 1 / rho), maxInvRho = Math.pow(sigmaMax, 1 / rho);
        double[] out = new double[steps];
        double step = steps > 1 ? 1.0 / (steps - 1) : 0;
        for (int i = 0; i < steps; i++) {
            double ramp = steps > 1 && i == steps - 1 ? 1.0 : i * step;
            out[i] = Math.pow(maxInvRho + ramp * (minInvRho - maxInvRho), rho);
        }
        return out;
    }

    /**
     * _sigma_to_t: the fractional train timestep of {@code sigma}, interpolating log sigma linearly.
     * Under numpy 1.x value-based casting the float64 log sigma meets the float32 table as float32,
     * so the distances and the weight w are float32; t itself is float64.
     */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        float ls = (float) logSigma;
        int n = logSigmas.length;
        // low_idx = np.cumsum(dists >= 0, axis=0).argmax(axis=0).clip(max=n - 2)
        int count = 0, best = -1, lowIdx = 0;
        for (int j = 0; j < n; j++) {
            if (ls - logSigmas[j] >= 0) count++;
            if (count > best) {
                best = count;
                lowIdx = j;
            }
        }
        lowIdx = Math.min(lowIdx, n - 2);
        int highIdx = lowIdx + 1;
        float low = logSigmas[lowIdx], high = logSigmas[highIdx];
        float w = (low - ls) / (low - high);
        w = Math.max(0f, Math.min(1f, w));
        return (double) (1f - w) * lowIdx + (double) w * highIdx;
    }

    /** _sigma_to_alpha_sigma_t on a float32 sigma: alpha = 1 / (σ² + 1)^0.5, sigma_t = σ · alpha. */
    static float alpha(float sigma) {
        return 1f / (float) Math.sqrt(sigma * sigma + 1f);
    }

    /** λ = log(alpha_t) − log(sigma_t), each a float32 torch op. */
    static float lambda(float sigma) {
        float a = alpha(sigma), s = sigma * a;
        return (float) Math.log(a) - (float) Math.log(s);
    }

    /** float32 exp, as torch.exp on a float32 tensor. */
    static float exp(float x) {
        return (float) Math.exp(x);
    }

    /**
     * An integer list from the config (UniPC's disable_corrector). SchedulerConfig has getters for
     * scalars only, so this reads the list from the config's JSON text.
     */
    static int[] intList(SchedulerConfig c, String key) {
        if (!c.has(key)) return new int[0];
        JsonNode v;
        try {
            v = JsonMapper.builder().enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
                    .build().readTree(c.toString()).get(key);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        if (!v.isArray()) throw new IllegalArgumentException(c.source() + ": '" + key + "' must be a list of integers, is " + v);
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isIntegralNumber()) throw new IllegalArgumentException(c.source() + ": '" + key + "' must be a list of integers, is " + v);
            out[i] = v.get(i).intValue();
        }
        return out;
    }
}
