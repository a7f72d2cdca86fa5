package dev.sdj.sched;

/**
 * The training noise schedule every SD scheduler starts from: betas, alphas = 1 − betas and
 * alphas_cumprod, in float32 exactly as diffusers builds them with torch.
 */
public record TrainSchedule(float[] betas, float[] alphas, float[] alphasCumprod) {

    public static TrainSchedule of(SchedulerConfig c) {
        int n = c.getInt("num_train_timesteps", 1000);
        if (c.has("trained_betas")) {
            throw new IllegalArgumentException(c.source() + ": 'trained_betas' is not implemented by sdj");
        }
        double start = c.getDouble("beta_start", 0.0001), end = c.getDouble("beta_end", 0.02);
        String kind = c.getString("beta_schedule", "linear");
        float[] betas = switch (kind) {
            case "linear" -> linspace((float) start, (float) end, n);
            case "scaled_linear" -> {
                // torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=float32) ** 2
                float[] b = linspace((float) Math.sqrt(start), (float) Math.sqrt(end), n);
                for (int i = 0; i < n; i++) b[i] = b[i] * b[i];
                yield b;
            }
            case "squaredcos_cap_v2" -> {
                float[] b = new float[n];
                for (int i = 0; i < n; i++) {
                    double t1 = (double) i / n, t2 = (double) (i + 1) / n;
                    b[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
                }
                yield b;
            }
            default -> throw new IllegalArgumentException(c.source() + ": 'beta_schedule' = " + kind
                    + " is not implemented by sdj (supported: linear, scaled_linear, squaredcos_cap_v2)");
        };
        if (c.getBool("rescale_betas_zero_snr", false)) {
            throw new IllegalArgumentException(c.source() + ": 'rescale_betas_zero_snr' = true is not implemented by sdj");
        }
        float[] alphas = new float[n], cumprod = new float[n];
        float acc = 1f;
        for (int i = 0; i < n; i++) {
            alphas[i] = 1f - betas[i];
            acc *= alphas[i]; // torch.cumprod in float32: sequential products
            cumprod[i] = acc;
        }
        return new TrainSchedule(betas, alphas, cumprod);
    }

    private static double alphaBar(double t) {
        double v = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return v * v;
    }

    /**
     * torch.linspace in float32: the step is computed in float, the first half counts up from
     * start and the second half down from end (torch's kernel does both, for symmetry).
     */
    public static float[] linspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) out[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return out;
    }
}
