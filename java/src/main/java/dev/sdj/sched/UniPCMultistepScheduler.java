package dev.sdj.sched;

/**
 * diffusers v0.24.0 UniPCMultistepScheduler with predict_x0 (data prediction), solver_type bh1 or
 * bh2: each step first corrects the latents the previous step predicted (UniC, using the new model
 * output), then predicts the next latents (UniP).
 *
 * <p>Scalars are float32 in diffusers' operation order. The schedule is DPM-Solver's (shared in
 * {@link MultistepSigmas}) but always spaced over all num_train_timesteps, and, as in v0.24, ends at
 * the smallest train sigma rather than 0. lower_order_final here holds at any step count.
 */
public final class UniPCMultistepScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final TrainSchedule train;
    private final int solverOrder;
    private final boolean bh2; // B(h) = expm1(hh), else (bh1) B(h) = hh
    private final String prediction;
    private final boolean lowerOrderFinal;
    private final int[] disableCorrector;

    private float[] timesteps;
    private float[] sigmas;
    private float[][] modelOutputs; // converted outputs (x0) of the last solverOrder steps, newest last
    private int lowerOrderNums;
    private int thisOrder; // the predictor order of the previous step, which its corrector reuses
    private float[] lastSample; // the latents the previous predictor started from
    private int nextIndex = -1;

    public UniPCMultistepScheduler(SchedulerConfig config) {
        this.config = config;
        this.train = TrainSchedule.of(config);
        this.solverOrder = config.getInt("solver_order", 2);
        if (solverOrder < 1 || solverOrder > 3) {
            throw new IllegalArgumentException(config.source() + ": 'solver_order' = " + solverOrder
                    + " is not implemented by sdj's UniPCMultistepScheduler (supported: 1, 2, 3)");
        }
        String solverType = config.getString("solver_type", "bh2");
        // diffusers maps DPM-Solver's solver types to bh2.
        if (solverType.equals("midpoint") || solverType.equals("heun") || solverType.equals("logrho")) solverType = "bh2";
        if (!solverType.equals("bh1") && !solverType.equals("bh2")) {
            throw new IllegalArgumentException(config.source() + ": 'solver_type' = " + solverType
                    + " is not implemented by sdj's UniPCMultistepScheduler (supported: bh1, bh2)");
        }
        this.bh2 = solverType.equals("bh2");
        config.require("predict_x0", config.getBool("predict_x0", true), true);
        this.prediction = config.getString("prediction_type", "epsilon");
        if (!prediction.equals("epsilon") && !prediction.equals("v_prediction") && !prediction.equals("sample")) {
            throw new IllegalArgumentException(config.source() + ": 'prediction_type' = " + prediction
                    + " is not implemented by sdj's UniPCMultistepScheduler (supported: epsilon, v_prediction, sample)");
        }
        config.require("thresholding", config.getBool("thresholding", false), false);
        if (config.has("solver_p")) {
            throw new IllegalArgumentException(config.source() + ": 'solver_p' (an external predictor scheduler)"
                    + " is not implemented by sdj's UniPCMultistepScheduler");
        }
        MultistepSigmas.checkSpacing(config);
        this.lowerOrderFinal = config.getBool("lower_order_final", true);
        this.disableCorrector = MultistepSigmas.intList(config, "disable_corrector");
    }

    @Override
    public String className() {
        return "UniPCMultistepScheduler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public void setTimesteps(int steps) {
        MultistepSigmas.Schedule s = MultistepSigmas.build(config, train, steps, train.alphasCumprod().length);
        timesteps = new float[s.timesteps().length];
        for (int i = 0; i < timesteps.length; i++) timesteps[i] = s.timesteps()[i];
        sigmas = s.sigmas();
        modelOutputs = new float[solverOrder][];
        lowerOrderNums = 0;
        thisOrder = 0;
        lastSample = null;
        nextIndex = -1;
    }

    @Override
    public float[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    @Override
    public float[] sigmas() {
        requireTimesteps();
        return sigmas.clone();
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public int order() {
        return 1; // diffusers: class attribute order = 1
    }

    @Override
    public float[] scaleModelInput(float[] sample, int i) {
        return sample; // UniPC works on the unscaled latents
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        requireTimesteps();
        int n = timesteps.length;
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("step index " + i + " outside 0.." + (n - 1));
        if (nextIndex >= 0 && i != nextIndex) {
            throw new IllegalStateException("multistep scheduler: step " + i + " after step " + (nextIndex - 1)
                    + "; steps must run in order (setTimesteps starts a new run)");
        }
        if (modelOutput.length != sample.length) {
            throw new IllegalArgumentException("model output has " + modelOutput.length + " values, sample " + sample.length);
        }

        boolean useCorrector = i > 0 && !contains(disableCorrector, i - 1) && lastSample != null;
        // The conversion uses the latents as given, before the corrector changes them.
        float[] x0 = convertModelOutput(modelOutput, i, sample);
        if (useCorrector) sample = corrector(x0, i, lastSample, sample, thisOrder);

        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = x0;

        int order = lowerOrderFinal ? Math.min(solverOrder, n - i) : solverOrder;
        thisOrder = Math.min(order, lowerOrderNums + 1); // warm-up of the multistep history
        lastSample = sample;
        float[] prev = predictor(i, sample, thisOrder);

        if (lowerOrderNums < solverOrder) lowerOrderNums++;
        nextIndex = i + 1;
        return new StepOutput(prev, null);
    }

    /** convert_model_output with predict_x0: the data prediction. */
    private float[] convertModelOutput(float[] out, int i, float[] sample) {
        float alphaT = MultistepSigmas.alpha(sigmas[i]), sigmaT = sigmas[i] * alphaT;
        float[] x0 = new float[out.length];
        switch (prediction) {
            case "epsilon" -> {
                for (int k = 0; k < x0.length; k++) x0[k] = (sample[k] - sigmaT * out[k]) / alphaT;
            }
            case "v_prediction" -> {
                for (int k = 0; k < x0.length; k++) x0[k] = alphaT * sample[k] - sigmaT * out[k];
            }
            default -> System.arraycopy(out, 0, x0, 0, x0.length); // "sample"
        }
        return x0;
    }

    /**
     * The coefficients both B(h) updates build: h_phi_1 = expm1(hh), B_h, and b_k (k = 1..order)
     * from the recursion h_phi_k ← h_phi_k / hh − 1 / (k+1)!, with hh = −h for data prediction.
     */
    private record Coefficients(float hPhi1, float bH, float[] b) {}

    private Coefficients coefficients(float h, int order) {
        float hh = -h;
        float hPhi1 = (float) Math.expm1(hh);
        float hPhiK = hPhi1 / hh - 1f;
        float bH = bh2 ? (float) Math.expm1(hh) : hh;
        float[] b = new float[order];
        long factorial = 1;
        for (int k = 1; k <= order; k++) {
            b[k - 1] = hPhiK * factorial / bH;
            factorial *= k + 1;
            hPhiK = hPhiK / hh - (float) (1.0 / factorial);
        }
        return new Coefficients(hPhi1, bH, b);
    }

    /** multistep_uni_p_bh_update: from the latents at step i to those at step i+1. */
    private float[] predictor(int i, float[] x, int order) {
        float sT = sigmas[i + 1], sS0 = sigmas[i];
        float alphaT = MultistepSigmas.alpha(sT), sigmaT = sT * alphaT;
        float alphaS0 = MultistepSigmas.alpha(sS0), sigmaS0 = sS0 * alphaS0;
        float lambdaS0 = lambda(alphaS0, sigmaS0);
        float h = lambda(alphaT, sigmaT) - lambdaS0;
        float[] m0 = modelOutputs[solverOrder - 1];

        // rk and D1 = (m_k - m0) / rk for the older outputs, k = 1..order-1
        float[] rks = new float[order];
        float[][] d1s = new float[order - 1][];
        for (int k = 1; k < order; k++) {
            float sk = sigmas[i - k];
            float alphaK = MultistepSigmas.alpha(sk);
            float rk = (lambda(alphaK, sk * alphaK) - lambdaS0) / h;
            rks[k - 1] = rk;
            float[] mk = modelOutputs[solverOrder - 1 - k];
            float[] d = new float[x.length];
            for (int e = 0; e < d.length; e++) d[e] = (mk[e] - m0[e]) / rk;
            d1s[k - 1] = d;
        }
        rks[order - 1] = 1f;
        Coefficients co = coefficients(h, order);

        float[] rhos;
        if (order == 1) rhos = new float[0];
        else if (order == 2) rhos = new float[] {0.5f}; // "for order 2, we use a simplified version"
        else rhos = solve(vandermonde(rks, order - 1), co.b(), order - 1); // R[:-1, :-1] rho = b[:-1]

        float a = sigmaT / sigmaS0, c = alphaT * co.hPhi1(), g = alphaT * co.bH();
        float[] out = new float[x.length];
        for (int e = 0; e < out.length; e++) {
            float xt = a * x[e] - c * m0[e];
            if (rhos.length > 0) out[e] = xt - g * einsum(rhos, d1s, e, rhos.length);
            else out[e] = xt; // pred_res = 0
        }
        return out;
    }

    /**
     * multistep_uni_c_bh_update: corrects the latents {@code xt} that the previous step predicted from
     * {@code last}, now that the model output at step i is known.
     */
    private float[] corrector(float[] modelT, int i, float[] last, float[] xt, int order) {
        float sT = sigmas[i], sS0 = sigmas[i - 1];
        float alphaT = MultistepSigmas.alpha(sT), sigmaT = sT * alphaT;
        float alphaS0 = MultistepSigmas.alpha(sS0), sigmaS0 = sS0 * alphaS0;
        float lambdaS0 = lambda(alphaS0, sigmaS0);
        float h = lambda(alphaT, sigmaT) - lambdaS0;
        float[] m0 = modelOutputs[solverOrder - 1]; // the previous step's output; modelT is not in the list yet

        float[] rks = new float[order];
        float[][] d1s = new float[order - 1][];
        for (int k = 1; k < order; k++) {
            float sk = sigmas[i - (k + 1)];
            float alphaK = MultistepSigmas.alpha(sk);
            float rk = (lambda(alphaK, sk * alphaK) - lambdaS0) / h;
            rks[k - 1] = rk;
            float[] mk = modelOutputs[solverOrder - 1 - k];
            float[] d = new float[xt.length];
            for (int e = 0; e < d.length; e++) d[e] = (mk[e] - m0[e]) / rk;
            d1s[k - 1] = d;
        }
        rks[order - 1] = 1f;
        Coefficients co = coefficients(h, order);
        // "for order 1, we use a simplified version"
        float[] rhos = order == 1 ? new float[] {0.5f} : solve(vandermonde(rks, order), co.b(), order);

        float a = sigmaT / sigmaS0, c = alphaT * co.hPhi1(), g = alphaT * co.bH(), rhoT = rhos[order - 1];
        float[] out = new float[xt.length];
        for (int e = 0; e < out.length; e++) {
            float x = a * last[e] - c * m0[e];
            float d1t = modelT[e] - m0[e];
            float corr = order > 1 ? einsum(rhos, d1s, e, order - 1) + rhoT * d1t : rhoT * d1t; // corr_res = 0 at order 1
            out[e] = x - g * corr;
        }
        return out;
    }

    /** torch.einsum("k,bkc...->bc...", rho, D1s) at one element: Σ_k rho[k] · D1s[k]. */
    private static float einsum(float[] rho, float[][] d1s, int e, int k) {
        float s = rho[0] * d1s[0][e];
        for (int j = 1; j < k; j++) s += rho[j] * d1s[j][e];
        return s;
    }

    /** R = stack([rks ** 0, rks ** 1, ...]): row j holds rks[c]^j, first m rows and columns. */
    private static float[][] vandermonde(float[] rks, int m) {
        float[][] r = new float[m][m];
        for (int j = 0; j < m; j++) {
            for (int c = 0; c < m; c++) r[j][c] = j == 0 ? 1f : j == 1 ? rks[c] : (float) Math.pow(rks[c], j);
        }
        return r;
    }

    /** torch.linalg.solve in float32 for the small systems here: LU with partial pivoting, as LAPACK sgesv. */
    static float[] solve(float[][] a0, float[] b0, int m) {
        float[][] a = new float[m][];
        for (int r = 0; r < m; r++) a[r] = a0[r].clone();
        float[] b = java.util.Arrays.copyOf(b0, m);
        for (int col = 0; col < m; col++) {
            int p = col;
            for (int r = col + 1; r < m; r++) if (Math.abs(a[r][col]) > Math.abs(a[p][col])) p = r;
            float[] t = a[p];
            a[p] = a[col];
            a[col] = t;
            float tb = b[p];
            b[p] = b[col];
            b[col] = tb;
            float inv = 1f / a[col][col]; // LAPACK scales the column by the pivot's reciprocal
            for (int r = col + 1; r < m; r++) {
                float l = a[r][col] * inv;
                for (int c = col + 1; c < m; c++) a[r][c] -= l * a[col][c];
                b[r] -= l * b[col];
            }
        }
        for (int r = m - 1; r >= 0; r--) {
            b[r] /= a[r][r];
            for (int q = 0; q < r; q++) b[q] -= b[r] * a[q][r];
        }
        return b;
    }

    private static float lambda(float alpha, float sigma) {
        return (float) Math.log(alpha) - (float) Math.log(sigma);
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }

    /** add_noise (DPM-Solver's): alpha_t · original + sigma_t · noise at the sigma of step {@code i}. */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        requireTimesteps();
        float alphaT = MultistepSigmas.alpha(sigmas[i]), sigmaT = sigmas[i] * alphaT;
        float[] out = new float[original.length];
        for (int k = 0; k < out.length; k++) out[k] = alphaT * original[k] + sigmaT * noise[k];
        return out;
    }

    private void requireTimesteps() {
        if (timesteps == null) throw new IllegalStateException("UniPCMultistepScheduler: call setTimesteps first");
    }
}
