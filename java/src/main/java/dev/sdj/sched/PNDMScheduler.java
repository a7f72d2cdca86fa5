package dev.sdj.sched;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' PNDMScheduler (v0.24.0) on its skip_prk_steps = true path: PLMS, the linear multistep
 * sampler SD1.x ships as its default (crowsonkb's PLMS for latent-diffusion). The Runge-Kutta
 * warm-up (skip_prk_steps = false) is refused. Config: num_train_timesteps, beta_*,
 * set_alpha_to_one, steps_offset, prediction_type (epsilon, v_prediction), timestep_spacing.
 *
 * <p>n steps give n+1 model calls: the second timestep is repeated, and the first two calls make
 * one step together (a second-order start, as PLMS has no history yet).
 */
public final class PNDMScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final float[] alphasCumprod;
    private final int numTrain, stepsOffset;
    private final String spacing, prediction;
    private final float finalAlphaCumprod;

    private int numInferenceSteps;
    private float[] timesteps;
    // Per-run state, as diffusers keeps it: calls made, the model outputs (ets) of the last 4 steps,
    // and the sample the first step started from (the second call restarts from it).
    private int counter;
    private final List<float[]> ets = new ArrayList<>();
    private float[] curSample;

    public PNDMScheduler(SchedulerConfig c) {
        config = c;
        if (!c.getBool("skip_prk_steps", false)) {
            throw new IllegalArgumentException(c.source() + ": 'skip_prk_steps' = false (PNDM's Runge-Kutta warm-up steps) is not "
                    + "implemented by sdj's PNDMScheduler; set skip_prk_steps true (PLMS, as SD ships it)");
        }
        alphasCumprod = TrainSchedule.of(c, false).alphasCumprod();
        numTrain = c.getInt("num_train_timesteps", 1000);
        stepsOffset = c.getInt("steps_offset", 0);
        spacing = SigmaSchedules.timestepSpacing(c, className(), SigmaSchedules.LEADING);
        prediction = SigmaSchedules.predictionType(c, className(), "epsilon", "v_prediction");
        finalAlphaCumprod = c.getBool("set_alpha_to_one", false) ? 1f : alphasCumprod[0];
    }

    @Override
    public String className() {
        return "PNDMScheduler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public void setTimesteps(int steps) {
        if (steps < 1 || steps > numTrain) {
            throw new IllegalArgumentException(className() + ": steps must be 1.." + numTrain + " (num_train_timesteps), is " + steps);
        }
        numInferenceSteps = steps;
        // _timesteps, ascending
        long[] asc;
        switch (spacing) {
            case SigmaSchedules.LINSPACE -> {
                double[] l = SigmaSchedules.linspace(0, numTrain - 1, steps);
                asc = new long[steps];
                for (int i = 0; i < steps; i++) asc[i] = (long) Math.rint(l[i]);
            }
            case SigmaSchedules.LEADING -> {
                int ratio = numTrain / steps;
                asc = new long[steps];
                for (int i = 0; i < steps; i++) asc[i] = (long) i * ratio + stepsOffset;
            }
            default -> {
                // np.round(np.arange(T, 0, -T/n))[::-1].astype(int64) - 1
                double[] a = SigmaSchedules.arange(numTrain, 0, -((double) numTrain / steps));
                asc = new long[a.length];
                for (int i = 0; i < a.length; i++) asc[i] = (long) Math.rint(a[a.length - 1 - i]) - 1;
            }
        }
        // plms_timesteps = concatenate([_timesteps[:-1], _timesteps[-2:-1], _timesteps[-1:]])[::-1]:
        // the second-highest timestep twice (for one step, [-2:-1] is empty and only t remains).
        int m = asc.length;
        List<Long> plms = new ArrayList<>();
        for (int i = 0; i < m - 1; i++) plms.add(asc[i]);
        if (m >= 2) plms.add(asc[m - 2]);
        plms.add(asc[m - 1]);
        timesteps = new float[plms.size()];
        for (int i = 0; i < timesteps.length; i++) timesteps[i] = plms.get(plms.size() - 1 - i);
        counter = 0;
        ets.clear();
        curSample = null;
    }

    @Override
    public float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public float[] sigmas() {
        return null;
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public float[] scaleModelInput(float[] sample, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return sample.clone();
    }

    /** step_plms. The step's timestep is the one at index i; the history is the scheduler's own. */
    @Override
    public StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        int ratio = numTrain / numInferenceSteps;
        int t = (int) timesteps[i];
        int prevT = t - ratio;
        if (counter != 1) {
            while (ets.size() > 3) ets.remove(0); // self.ets = self.ets[-3:]
            ets.add(modelOutput.clone());
        } else {
            // The second call re-evaluates the first step from its start: from t + T//n to t.
            prevT = t;
            t = t + ratio;
        }
        float[] x = sample, e;
        int h = ets.size();
        if (h == 1 && counter == 0) {
            e = modelOutput;
            curSample = sample.clone();
        } else if (h == 1 && counter == 1) {
            e = new float[modelOutput.length];
            float[] e1 = ets.get(0);
            for (int k = 0; k < e.length; k++) e[k] = (modelOutput[k] + e1[k]) / 2;
            x = curSample;
            curSample = null;
        } else {
            e = plmsCombination(ets);
        }
        float[] prev = prevSample(x, t, prevT, e);
        counter++;
        return new StepOutput(prev, null);
    }

    /** The Adams–Bashforth combinations of the last 2, 3 or 4 model outputs, float32 in diffusers' order. */
    private static float[] plmsCombination(List<float[]> ets) {
        int h = ets.size();
        float[] e1 = ets.get(h - 1), e2 = ets.get(h - 2);
        float[] out = new float[e1.length];
        if (h == 2) {
            for (int k = 0; k < out.length; k++) out[k] = (3 * e1[k] - e2[k]) / 2;
        } else if (h == 3) {
            float[] e3 = ets.get(h - 3);
            for (int k = 0; k < out.length; k++) out[k] = (23 * e1[k] - 16 * e2[k] + 5 * e3[k]) / 12;
        } else {
            float[] e3 = ets.get(h - 3), e4 = ets.get(h - 4);
            float c = (float) (1.0 / 24); // (1 / 24) * (...): a Python float times a float32 tensor
            for (int k = 0; k < out.length; k++) out[k] = c * (55 * e1[k] - 59 * e2[k] + 37 * e3[k] - 9 * e4[k]);
        }
        return out;
    }

    /** _get_prev_sample: formula (9) of the PNDM paper (arXiv:2202.09778), float32. */
    private float[] prevSample(float[] sample, int t, int prevT, float[] modelOutput) {
        float aT = alphasCumprod[t];
        float aPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod;
        float bT = 1f - aT, bPrev = 1f - aPrev;
        float[] e = modelOutput;
        if (prediction.equals("v_prediction")) {
            float sa = (float) Math.sqrt(aT), sb = (float) Math.sqrt(bT);
            e = new float[modelOutput.length];
            for (int k = 0; k < e.length; k++) e[k] = sa * modelOutput[k] + sb * sample[k];
        }
        // (ᾱ_prev − ᾱ_t) / (√ᾱ_t·(√ᾱ_prev + √ᾱ_t)) + 1 = √(ᾱ_prev/ᾱ_t)
        float sampleCoeff = (float) Math.sqrt(aPrev / aT);
        float denom = aT * (float) Math.sqrt(bPrev) + (float) Math.sqrt(aT * bT * aPrev);
        float diff = aPrev - aT;
        float[] prev = new float[sample.length];
        for (int k = 0; k < prev.length; k++) prev[k] = sampleCoeff * sample[k] - diff * e[k] / denom;
        return prev;
    }

    /** DDPMScheduler.add_noise at the timestep of index i. */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className());
        return DDIMScheduler.alphaNoise(alphasCumprod, (int) timesteps[i], original, noise);
    }
}
