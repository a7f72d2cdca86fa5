package dev.sdj.sched;

/**
 * What diffusers' k-diffusion schedulers (Euler, Euler ancestral, Heun, LMS) copy into each class
 * ("# Copied from"): the training sigmas, the spaced timesteps and the sigma schedule with a final
 * 0, Karras sigmas with timesteps inverted from them, the input scaling x / (σ² + 1)^½, and
 * add_noise at the unique index of a timestep. Subclasses build their schedule and take the step.
 */
abstract sealed class SigmaScheduler implements Scheduler
        permits EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, HeunDiscreteScheduler, LMSDiscreteScheduler {
    private final String className;
    final SchedulerConfig config;
    final float[] trainSigmas;
    final int numTrain, stepsOffset;
    final String spacing, prediction;

    /** Set by {@link #setTimesteps}; null until then. */
    float[] timesteps, sigmas;

    SigmaScheduler(String className, SchedulerConfig c, String... predictionTypes) {
        this.className = className;
        config = c;
        trainSigmas = SigmaSchedules.trainSigmas(TrainSchedule.of(c, false).alphasCumprod());
        numTrain = c.getInt("num_train_timesteps", 1000);
        stepsOffset = c.getInt("steps_offset", 0);
        spacing = SigmaSchedules.timestepSpacing(c, className, SigmaSchedules.LINSPACE);
        prediction = SigmaSchedules.predictionType(c, className, predictionTypes);
    }

    /** The config's sigma_min or sigma_max where it has the key (_convert_to_karras reads them by hasattr), else null. */
    static Double optionalSigma(SchedulerConfig c, String key) {
        return c.has(key) ? c.getDouble(key, 0) : null;
    }

    @Override
    public final String className() {
        return className;
    }

    @Override
    public final SchedulerConfig config() {
        return config;
    }

    /** The spaced training timesteps for {@code steps} steps (float32, descending). */
    final float[] spacedTimesteps(int steps) {
        if (steps < 1) throw new IllegalArgumentException(className + ": steps must be ≥ 1, is " + steps);
        return SigmaSchedules.sigmaTimesteps(spacing, numTrain, steps, stepsOffset);
    }

    /** The (fractional) training timesteps of Karras sigmas, by _sigma_to_t on the float32 log of the training sigmas. */
    final float[] timestepsOf(double[] karrasSigmas) {
        float[] logSigmas = SigmaSchedules.log(trainSigmas);
        float[] t = new float[karrasSigmas.length];
        for (int i = 0; i < t.length; i++) t[i] = (float) SigmaSchedules.sigmaToT(karrasSigmas[i], logSigmas);
        return t;
    }

    /** torch.cat([sigmas, zeros(1)]) of the float64 schedule, as float32. */
    static float[] withFinalZero(double[] s) {
        float[] out = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) out[i] = (float) s[i];
        return out;
    }

    @Override
    public final float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public final float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public final float initNoiseSigma() {
        return SigmaSchedules.initNoiseSigma(sigmas, spacing);
    }

    @Override
    public final float[] scaleModelInput(float[] sample, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className);
        return SigmaSchedules.scaleBySigma(sample, sigmas[i]);
    }

    /** add_noise at the σ of the one schedule entry equal to timestep {@code i} (Heun, which repeats them, overrides this). */
    @Override
    public float[] addNoise(float[] original, float[] noise, int i) {
        SigmaSchedules.checkIndex(timesteps, i, className);
        return SigmaSchedules.addSigmaNoise(original, noise, sigmas[SigmaSchedules.uniqueIndex(timesteps, i, className)]);
    }
}
