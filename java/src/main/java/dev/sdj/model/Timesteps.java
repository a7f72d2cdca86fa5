package dev.sdj.model;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;

/** diffusers' Timesteps: the sinusoidal projection (no parameters). */
public record Timesteps(Backend backend, int channels, boolean flipSinToCos, float downscaleFreqShift) {

    /** (n, channels) for n timesteps. */
    public Tensor forward(float[] timesteps) {
        return backend.timestepEmbedding(timesteps, channels, flipSinToCos, downscaleFreqShift, 1f, 10000f);
    }
}
