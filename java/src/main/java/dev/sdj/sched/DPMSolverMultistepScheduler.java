package dev.sdj.sched;

/**
 * diffusers v0.24.0 DPMSolverMultistepScheduler: DPM-Solver++ (A1111's "DPM++ 2M") and its SDE
 * variant ("DPM++ 2M SDE"), solver order 1, 2 or 3, midpoint or heun second-order updates.
 *
 * <p>It works on data predictions: each model output is converted to x0, kept in a short history,
 * and the step from sigma[i] to sigma[i+1] is a multistep update in lambda = log(alpha/sigma).
 * Scalars are float32, computed in the order diffusers' torch code does.
 *
 * <p>v0.24 specifics kept on purpose: the schedule does not end at sigma 0 but at the smallest
 * train sigma (Karras: that sigma repeated, so the last step changes nothing), and
 * lower_order_final only applies below 15 steps.
 */
public final class DPMSolverMultistepScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final TrainSchedule train;
    private final boolean sde; // algorithm_type sde-dpmsolver++, else dpmsolver++
    private final int solverOrder;
    private final boolean heun; // solver_type heun, else midpoint
    private final String prediction;
    private final boolean lowerOrderFinal, eulerAtFinal;
    private final int lastTimestep;

    private float[] timesteps;
    private float[] sigmas;
    // model_outputs: the converted outputs (x0 predictions) of the last solverOrder steps, newest last.
    private float[][] modelOutputs;
    private int lowerOrderNums;
    private int nextIndex = -1; // the index the next step must have, -1 before the first

    public DPMSolverMultistepScheduler(SchedulerConfig config) {
        this.config = config;
        this.train = TrainSchedule.of(config);
        String algo = config.getString("algorithm_type", "dpmsolver++");
        // diffusers maps "deis" to dpmsolver++ (register_to_config) and keeps the rest.
        if (algo.equals("deis")) algo = "dpmsolver++";
        if (!algo.equals("dpmsolver++") && !algo.equals("sde-dpmsolver++")) {
            throw new IllegalArgumentException(config.source() + ": 'algorithm_type' = " + algo
                    + " is not implemented by sdj's DPMSolverMultistepScheduler (supported: dpmsolver++, sde-dpmsolver++)");
        }
        this.sde = algo.equals("sde-dpmsolver++");
        this.solverOrder = config.getInt("solver_order", 2);
        if (solverOrder < 1 || solverOrder > 3) {
            throw new IllegalArgumentException(config.source() + ": 'solver_order' = " + solverOrder
                    + " is not implemented by sdj's DPMSolverMultistepScheduler (supported: 1, 2, 3)");
        }
        if (sde && solverOrder == 3) {
            // diffusers' third-order update has no SDE branch (it fails at the third step).
            throw new IllegalArgumentException(config.source() + ": 'solver_order' = 3 with algorithm_type sde-dpmsolver++"
                    + " is not supported by diffusers' DPMSolverMultistepScheduler (supported: 1, 2)");
        }
        String solverType = config.getString("solver_type", "midpoint");
        // diffusers maps UniPC's and DEIS's solver types to midpoint.
        if (solverType.equals("logrho") || solverType.equals("bh1") || solverType.equals("bh2")) solverType = "midpoint";
        if (!solverType.equals("midpoint") && !solverType.equals("heun")) {
            throw new IllegalArgumentException(config.source() + ": 'solver_type' = " + solverType
                    + " is not implemented by sdj's DPMSolverMultistepScheduler (supported: midpoint, heun)");
        }
        this.heun = solverType.equals("heun");
        this.prediction = config.getString("prediction_type", "epsilon");
        if (!prediction.equals("epsilon") && !prediction.equals("v_prediction") && !prediction.equals("sample")) {
            throw new IllegalArgumentException(config.source() + ": 'prediction_type' = " + prediction
                    + " is not implemented by sdj's DPMSolverMultistepScheduler (supported: epsilon, v_prediction, sample)");
        }
        config.require("thresholding", config.getBool("thresholding", false), false);
        config.require("use_lu_lambdas", config.getBool("use_lu_lambdas", false), false);
        // learned variance would split the model's channels (model_output[:, :3]); SD U-Nets don't learn it.
        config.require("variance_type", config.getString("variance_type", null), null);
        MultistepSigmas.checkSpacing(config);
        this.lowerOrderFinal = config.getBool("lower_order_final", true);
        this.eulerAtFinal = config.getBool("euler_at_final", false);

        // clipped_idx = searchsorted(flip(lambda_t), lambda_min_clipped): how many train lambdas lie
        // below the clip; the spacing then starts that many timesteps lower (cosine schedules).
        float clip = (float) config.getDouble("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        float[] ac = train.alphasCumprod();
        int clipped = 0;
        for (float a : ac) {
            float lambda = (float) Math.log((float) Math.sqrt(a)) - (float) Math.log((float) Math.sqrt(1f - a));
            if (lambda < clip) clipped++;
        }
        this.lastTimestep = ac.length - clipped;
    }

    @Override
    public String className() {
        return "DPMSolverMultistepScheduler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public void setTimesteps(int steps) {
        MultistepSigmas.Schedule s = MultistepSigmas.build(config, train, steps, lastTimestep);
        timesteps = new float[s.timesteps().length];
        for (int i = 0; i < timesteps.length; i++) timesteps[i] = s.timesteps()[i];
        sigmas = s.sigmas();
        modelOutputs = new float[solverOrder][];
        lowerOrderNums = 0;
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
        return 1; // diffusers: class attribute order = 1 (one model call per step)
    }

    @Override
    public float[] scaleModelInput(float[] sample, int i) {
        return sample; // DPM-Solver works on the unscaled latents
    }

    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        // Without the NCHW shape: torch draws the same values for any shape of the same size.
        return step(modelOutput, i, sample, new int[] {sample.length}, noise);
    }

    /**
     * One step, with the sample's NCHW shape for the noise the SDE variant draws (every step, before
     * the update, as diffusers' randn_tensor(model_output.shape)). {@code noise} may be null for dpmsolver++.
     */
    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, int[] shape, NoiseSource noise) {
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

        if (sde && noise == null) throw new IllegalArgumentException("sde-dpmsolver++ draws noise every step: pass a NoiseSource");

        // "Improve numerical stability for small number of steps"
        boolean lowerOrderFinalNow = i == n - 1 && (eulerAtFinal || (lowerOrderFinal && n < 15));
        boolean lowerOrderSecond = i == n - 2 && lowerOrderFinal && n < 15;

        float[] x0 = convertModelOutput(modelOutput, i, sample);
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = x0;

        float[] z = null;
        if (sde) {
            z = noise.randn(shape);
            if (z.length != sample.length) {
                throw new IllegalArgumentException("noise source gave " + z.length + " values for " + sample.length);
            }
        }

        float[] prev;
        if (sigmas[i + 1] == sigmas[i]) {
            // With Karras sigmas v0.24 repeats the last sigma, so the last step has h = 0. The
            // first-order and midpoint updates then return the sample unchanged; heun's and the
            // third-order's divide 0 by 0 and diffusers turns the whole image into NaN (at 15 steps
            // or more, where lower_order_final no longer applies). sdj takes the h → 0 limit of every
            // update, the unchanged sample, which is also what diffusers gives wherever its result is finite.
            prev = sample.clone();
        } else if (solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinalNow) {
            prev = firstOrderUpdate(x0, i, sample, z);
        } else if (solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond) {
            prev = secondOrderUpdate(i, sample, z);
        } else {
            prev = thirdOrderUpdate(i, sample);
        }
        if (lowerOrderNums < solverOrder) lowerOrderNums++;
        nextIndex = i + 1;
        return new StepOutput(prev, null);
    }

    /** convert_model_output for DPM-Solver++: the data prediction x0. */
    private float[] convertModelOutput(float[] out, int i, float[] sample) {
        float[] x0 = new float[out.length];
        float alphaT = MultistepSigmas.alpha(sigmas[i]), sigmaT = sigmas[i] * alphaT;
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

    /** dpm_solver_first_order_update (DDIM-like; the SDE one adds fresh noise). */
    private float[] firstOrderUpdate(float[] x0, int i, float[] sample, float[] z) {
        float sT = sigmas[i + 1], sS = sigmas[i];
        float alphaT = MultistepSigmas.alpha(sT), sigmaT = sT * alphaT;
        float alphaS = MultistepSigmas.alpha(sS), sigmaS = sS * alphaS;
        float h = lambda(alphaT, sigmaT) - lambda(alphaS, sigmaS);
        float[] x = new float[sample.length];
        if (!sde) {
            float a = sigmaT / sigmaS, b = alphaT * (MultistepSigmas.exp(-h) - 1f);
            for (int k = 0; k < x.length; k++) x[k] = a * sample[k] - b * x0[k];
        } else {
            float eh = MultistepSigmas.exp(-h), e2h = MultistepSigmas.exp(-2f * h);
            float a = sigmaT / sigmaS * eh, b = alphaT * (1f - e2h), c = sigmaT * (float) Math.sqrt(1f - e2h);
            for (int k = 0; k < x.length; k++) x[k] = a * sample[k] + b * x0[k] + c * z[k];
        }
        return x;
    }

    /** multistep_dpm_solver_second_order_update, from the last two data predictions. */
    private float[] secondOrderUpdate(int i, float[] sample, float[] z) {
        float sT = sigmas[i + 1], sS0 = sigmas[i], sS1 = sigmas[i - 1];
        float alphaT = MultistepSigmas.alpha(sT), sigmaT = sT * alphaT;
        float alphaS0 = MultistepSigmas.alpha(sS0), sigmaS0 = sS0 * alphaS0;
        float alphaS1 = MultistepSigmas.alpha(sS1), sigmaS1 = sS1 * alphaS1;
        float lambdaT = lambda(alphaT, sigmaT), lambdaS0 = lambda(alphaS0, sigmaS0), lambdaS1 = lambda(alphaS1, sigmaS1);
        float[] m0 = modelOutputs[solverOrder - 1], m1 = modelOutputs[solverOrder - 2];
        float h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float invR0 = 1f / r0; // D1 = (1.0 / r0) * (m0 - m1)
        float[] x = new float[sample.length];
        if (!sde) {
            float a = sigmaT / sigmaS0, b = alphaT * (MultistepSigmas.exp(-h) - 1f);
            // midpoint: - 0.5 * (alpha_t * (exp(-h) - 1)) * D1; heun: + (alpha_t * ((exp(-h) - 1) / h + 1)) * D1
            float c = heun ? alphaT * ((MultistepSigmas.exp(-h) - 1f) / h + 1f) : 0.5f * b;
            for (int k = 0; k < x.length; k++) {
                float d1 = invR0 * (m0[k] - m1[k]);
                x[k] = heun ? a * sample[k] - b * m0[k] + c * d1 : a * sample[k] - b * m0[k] - c * d1;
            }
        } else {
            float eh = MultistepSigmas.exp(-h), e2h = MultistepSigmas.exp(-2f * h);
            float a = sigmaT / sigmaS0 * eh, b = alphaT * (1f - e2h);
            // midpoint: + 0.5 * (alpha_t * (1 - exp(-2h))) * D1; heun: + (alpha_t * ((1 - exp(-2h)) / (-2h) + 1)) * D1
            float c = heun ? alphaT * ((1f - e2h) / (-2f * h) + 1f) : 0.5f * b;
            float d = sigmaT * (float) Math.sqrt(1f - e2h);
            for (int k = 0; k < x.length; k++) {
                float d1 = invR0 * (m0[k] - m1[k]);
                x[k] = a * sample[k] + b * m0[k] + c * d1 + d * z[k];
            }
        }
        return x;
    }

    /** multistep_dpm_solver_third_order_update (dpmsolver++ only, solver_type has no effect). */
    private float[] thirdOrderUpdate(int i, float[] sample) {
        float sT = sigmas[i + 1], sS0 = sigmas[i], sS1 = sigmas[i - 1], sS2 = sigmas[i - 2];
        float alphaT = MultistepSigmas.alpha(sT), sigmaT = sT * alphaT;
        float alphaS0 = MultistepSigmas.alpha(sS0), sigmaS0 = sS0 * alphaS0;
        float alphaS1 = MultistepSigmas.alpha(sS1), sigmaS1 = sS1 * alphaS1;
        float alphaS2 = MultistepSigmas.alpha(sS2), sigmaS2 = sS2 * alphaS2;
        float lambdaT = lambda(alphaT, sigmaT), lambdaS0 = lambda(alphaS0, sigmaS0);
        float lambdaS1 = lambda(alphaS1, sigmaS1), lambdaS2 = lambda(alphaS2, sigmaS2);
        float[] m0 = modelOutputs[2], m1 = modelOutputs[1], m2 = modelOutputs[0];
        float h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1, h1 = lambdaS1 - lambdaS2;
        float r0 = h0 / h, r1 = h1 / h;
        float invR0 = 1f / r0, invR1 = 1f / r1, w = r0 / (r0 + r1), invR01 = 1f / (r0 + r1);
        float em = MultistepSigmas.exp(-h) - 1f;
        float a = sigmaT / sigmaS0, b = alphaT * em, c = alphaT * (em / h + 1f);
        float d = alphaT * ((MultistepSigmas.exp(-h) - 1f + h) / (h * h) - 0.5f);
        float[] x = new float[sample.length];
        for (int k = 0; k < x.length; k++) {
            float d10 = invR0 * (m0[k] - m1[k]), d11 = invR1 * (m1[k] - m2[k]);
            float d1 = d10 + w * (d10 - d11), d2 = invR01 * (d10 - d11);
            x[k] = a * sample[k] - b * m0[k] + c * d1 - d * d2;
        }
        return x;
    }

    private static float lambda(float alpha, float sigma) {
        return (float) Math.log(alpha) - (float) Math.log(sigma);
    }

    /** add_noise: alpha_t · original + sigma_t · noise at the sigma of step {@code i}. */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        requireTimesteps();
        float alphaT = MultistepSigmas.alpha(sigmas[i]), sigmaT = sigmas[i] * alphaT;
        float[] out = new float[original.length];
        for (int k = 0; k < out.length; k++) out[k] = alphaT * original[k] + sigmaT * noise[k];
        return out;
    }

    private void requireTimesteps() {
        if (timesteps == null) throw new IllegalStateException("DPMSolverMultistepScheduler: call setTimesteps first");
    }
}
