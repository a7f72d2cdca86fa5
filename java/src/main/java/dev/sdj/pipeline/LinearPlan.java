package dev.sdj.pipeline;

import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A whole sampling run as linear algebra, worked out on the host before the first model call, so that the
 * device can run it without sending latents back.
 *
 * <p>Every scheduler sdj has is elementwise and linear: each step's latents are a fixed combination of the
 * starting noise, the init latents (img2img), the noise drawn along the way and the model outputs so far,
 * with coefficients that depend on the schedule only. So the scheduler itself is run once on "probe" latents:
 * vectors whose element j is the coefficient of basis tensor j (a unit vector for each noise draw and each
 * model output as it appears). What comes out of {@code scaleModelInput} and {@code step} are then exactly the
 * coefficient rows the device needs, and the noise draws are known in order and shape before the run, so the
 * real noise can be drawn from the seed's generator up front and uploaded in one copy. The schedulers' code is
 * the one place their math lives; this class only records it.
 */
public final class LinearPlan {

    /** What a basis tensor is: a noise draw (x_T is the first in txt2img), the init latents, a model output. */
    public enum Kind { NOISE, INIT, MODEL_OUTPUT }

    /** One basis tensor: its kind and its index among its kind (draw order; model call order). */
    public record Basis(Kind kind, int index) {}

    private final List<Basis> basis;
    private final int[] calls;          // scheduler step index of each model call
    private final float[][] modelInput; // per call: coefficients of the model input
    private final float[] finalLatents;
    private final float[] timesteps;
    private final int noiseDraws;

    private LinearPlan(List<Basis> basis, int[] calls, float[][] modelInput, float[] finalLatents, float[] timesteps,
                       int noiseDraws) {
        this.basis = basis;
        this.calls = calls;
        this.modelInput = modelInput;
        this.finalLatents = finalLatents;
        this.timesteps = timesteps;
        this.noiseDraws = noiseDraws;
    }

    /**
     * The plan for {@code steps} steps of {@code s} (which it runs, from {@code setTimesteps} on, as the host
     * loop would), for latents of NCHW {@code shape}; img2img when {@code img2img}, running the last
     * {@code strength} of the schedule.
     */
    public static LinearPlan of(Scheduler s, int steps, int[] shape, boolean img2img, float strength) {
        s.setTimesteps(steps);
        float[] ts = s.timesteps();
        int first = img2img ? DenoisingLoop.startIndex(steps, strength, s.order()) : 0;
        if (first >= ts.length) throw new IllegalArgumentException("strength " + strength + " with " + steps + " steps runs no step");
        int width = 3 + 2 * (ts.length - first);
        List<Basis> basis = new ArrayList<>();
        int[] draws = {0};
        NoiseSource probeNoise = sh -> {
            if (!Arrays.equals(sh, shape)) {
                throw new IllegalStateException(s.className() + " draws noise of shape " + Arrays.toString(sh) + ", not the latents' "
                        + Arrays.toString(shape) + ": cannot plan it");
            }
            basis.add(new Basis(Kind.NOISE, draws[0]++));
            return unit(width, basis.size() - 1);
        };

        float[] latents;
        if (!img2img) {
            latents = probeNoise.randn(shape);
            float sigma = s.initNoiseSigma();
            for (int i = 0; i < latents.length; i++) latents[i] *= sigma;
        } else {
            basis.add(new Basis(Kind.INIT, 0));
            float[] init = unit(width, basis.size() - 1);
            latents = s.addNoise(init, probeNoise.randn(shape), first);
        }
        int n = ts.length - first;
        int[] calls = new int[n];
        float[][] input = new float[n][];
        for (int j = 0; j < n; j++) {
            int i = first + j;
            calls[j] = i;
            input[j] = s.scaleModelInput(latents, i).clone();
            basis.add(new Basis(Kind.MODEL_OUTPUT, j));
            float[] eps = unit(width, basis.size() - 1);
            latents = s.step(eps, i, latents, shape, probeNoise).prevSample();
        }
        float[][] trimmed = new float[n][];
        for (int j = 0; j < n; j++) trimmed[j] = Arrays.copyOf(input[j], basis.size());
        return new LinearPlan(List.copyOf(basis), calls, trimmed, Arrays.copyOf(latents, basis.size()),
                Arrays.copyOfRange(ts, first, ts.length), draws[0]);
    }

    private static float[] unit(int width, int j) {
        if (j >= width) throw new IllegalStateException("the plan outgrew its " + width + " basis tensors");
        float[] v = new float[width];
        v[j] = 1f;
        return v;
    }

    /** The basis tensors in order: the device holds one tensor per entry. */
    public List<Basis> basis() {
        return basis;
    }

    /** Model calls in the run. */
    public int calls() {
        return calls.length;
    }

    /** Noise draws, x_T (txt2img) or the img2img noise first, then the samplers' own, in the generator's order. */
    public int noiseDraws() {
        return noiseDraws;
    }

    /** The model's timestep at call j. */
    public float timestep(int j) {
        return timesteps[j];
    }

    /** All model timesteps of the run, in call order. */
    public float[] timesteps() {
        return timesteps.clone();
    }

    /** Coefficients (over {@link #basis()}) of the model input at call j. */
    public float[] modelInput(int j) {
        return modelInput[j].clone();
    }

    /** Coefficients of the final latents. */
    public float[] finalLatents() {
        return finalLatents.clone();
    }
}
