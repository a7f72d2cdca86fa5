package dev.sdj.sched;

/**
 * A diffusion sampler with diffusers' semantics. Latents are flat float arrays in NCHW order, as
 * diffusers and the goldens hold them (the schedulers are elementwise, so the order only matters
 * for the noise they draw). Steps are addressed by their index in {@link #timesteps()}, which is
 * how diffusers' schedulers count internally (Heun and PNDM repeat timestep values).
 *
 * <p>A scheduler holds the state of one sampling run (multistep history); {@link #setTimesteps}
 * starts a new run.
 */
public interface Scheduler {

    /** The diffusers class this implements, e.g. "EulerDiscreteScheduler". */
    String className();

    SchedulerConfig config();

    /** Builds the inference schedule for {@code steps} steps and resets all per-run state. */
    void setTimesteps(int steps);

    /** The model's timesteps, one per model call (fractional for some sigma schedules). */
    float[] timesteps();

    /** The noise levels per step (length n+1 ending in 0; Heun 2n), or null for alpha-based schedulers. */
    float[] sigmas();

    /** What the initial noise is multiplied by. */
    float initNoiseSigma();

    /** Model calls per step of the underlying solver (Heun 2, else 1): img2img skips {@code order·t_start} entries. */
    default int order() {
        return 1;
    }

    /** The model input for step {@code i}: the latents, scaled where the scheduler needs it. */
    float[] scaleModelInput(float[] sample, int i);

    /**
     * One step: from the model's output at step {@code i} and the current latents to the latents
     * of the next step. {@code noise} feeds the stochastic samplers (may be null for the others);
     * those that draw noise need the latents' shape and take the 5-argument step instead.
     */
    StepOutput step(float[] modelOutput, int i, float[] sample, NoiseSource noise);

    /**
     * {@link #step(float[], int, float[], NoiseSource)} for latents of the NCHW {@code shape}, which
     * schedulers that draw noise inside step pass to {@link NoiseSource#randn} (diffusers'
     * randn_tensor(model_output.shape, generator)). Pipelines call this one. The default ignores the
     * shape; schedulers that draw noise override it (Euler ancestral refuses the 4-argument form,
     * and Euler draws, unused, the noise diffusers draws, so that a seeded stream stays in step).
     */
    default StepOutput step(float[] modelOutput, int i, float[] sample, int[] shape, NoiseSource noise) {
        return step(modelOutput, i, sample, noise);
    }

    /** diffusers' add_noise: {@code original} noised to the level of step {@code i} (img2img's start). */
    float[] addNoise(float[] original, float[] noise, int i);

    /** prevSample: the next latents; predOriginalSample (x0 estimate, LCM's "denoised"), or null. */
    record StepOutput(float[] prevSample, float[] predOriginalSample) {}
}
