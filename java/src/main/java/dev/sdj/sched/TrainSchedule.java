package dev.sdj.sched;

/**
 * The training noise schedule every SD scheduler starts from: betas, alphas = 1 − betas and
 * alphas_cumprod, in float32 bit for bit as diffusers v0.24.0 builds them with torch on the CPU
 * (checked against tests/golden/schedulers/train-schedule.safetensors: all 3000 values equal).
 */
public record TrainSchedule(float[] betas, float[] alphas, float[] alphasCumprod) {

    /**
     * The schedule of {@code c}. rescale_betas_zero_snr = true is refused: sdj does not implement
     * it (use {@link #of(SchedulerConfig, boolean)} for classes whose diffusers version ignores the key).
     */
    public static TrainSchedule of(SchedulerConfig c) {
        return of(c, true);
    }

    /**
     * {@code readsZeroSnr}: whether the diffusers class takes rescale_betas_zero_snr (DDIM does;
     * Euler, Heun, LMS and PNDM don't, and ignore the key when a config carries it, as diffusers
     * ignores every key a class does not take).
     */
    public static TrainSchedule of(SchedulerConfig c, boolean readsZeroSnr) {
        int n = c.getInt("num_train_timesteps", 1000);
        if (c.has("trained_betas")) {
            throw new IllegalArgumentException(c.source() + ": 'trained_betas' is not implemented by sdj");
        }
        double start = c.getDouble("beta_start", 0.0001), end = c.getDouble("beta_end", 0.02);
        String kind = c.getString("beta_schedule", "linear");
        float[] betas = switch (kind) {
            case "linear" -> linspace((float) start, (float) end, n);
            case "scaled_linear" -> {
                // torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=float32) ** 2 (pow 2 is x*x in torch)
                float[] b = linspace((float) Math.sqrt(start), (float) Math.sqrt(end), n);
                for (int i = 0; i < n; i++) b[i] = b[i] * b[i];
                yield b;
            }
            case "squaredcos_cap_v2" -> {
                // betas_for_alpha_bar: Python floats, then torch.tensor(betas, dtype=float32)
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
        if (readsZeroSnr && c.getBool("rescale_betas_zero_snr", false)) {
            throw new IllegalArgumentException(c.source() + ": 'rescale_betas_zero_snr' = true is not implemented by sdj");
        }
        float[] alphas = new float[n], cumprod = new float[n];
        // torch.cumprod on the CPU accumulates in acc_type<float> = double and rounds each output to
        // float; a float accumulator differs in 972 of the 1000 SD values.
        double acc = 1;
        for (int i = 0; i < n; i++) {
            alphas[i] = 1f - betas[i];
            acc *= alphas[i];
            cumprod[i] = (float) acc;
        }
        return new TrainSchedule(betas, alphas, cumprod);
    }

    private static double alphaBar(double t) {
        double v = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return v * v;
    }

    /**
     * torch.linspace in float32 as torch's CPU kernel computes it (1.13, AVX2 build): step = (end −
     * start)/(steps − 1) in float; index i below steps/2 is start + step·i, the others end −
     * step·(steps − 1 − i). The vectorised loop handles 16 values per pass as two 8-lane vectors whose
     * lane j is base + j·step (base computed for the vector's first index, which also decides the
     * half), the remaining steps % 16 values one by one; the compiler fuses each multiply-add (FMA).
     * Plain per-index arithmetic differs from torch in 272 of SD's 1000 betas, FMA-free vectors in 128.
     */
    public static float[] linspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (steps - 1);
        int half = steps / 2, vectorEnd = steps / 16 * 16, idx = 0;
        for (; idx < vectorEnd; idx += 8) {
            float base = linspaceAt(start, end, step, half, steps, idx);
            out[idx] = base;
            for (int j = 1; j < 8; j++) out[idx + j] = Math.fma(j, step, base);
        }
        for (; idx < steps; idx++) out[idx] = linspaceAt(start, end, step, half, steps, idx);
        return out;
    }

    private static float linspaceAt(float start, float end, float step, int half, int steps, int idx) {
        return idx < half ? Math.fma(step, idx, start) : Math.fma(-step, steps - idx - 1, end);
    }
}
