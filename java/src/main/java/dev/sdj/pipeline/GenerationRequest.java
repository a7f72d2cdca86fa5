package dev.sdj.pipeline;

import java.awt.image.BufferedImage;

/**
 * What to generate. Build one with {@link #of(String)} and the {@code with…} methods (each returns a copy);
 * 0 for width/height/steps/guidance means the family's default (512² SD1, 768² SD2, 1024² SDXL; 20 steps; CFG 7.5,
 * 5.0 for SDXL). Seeds: image i of a batch uses {@code seed + i} (A1111's rule), so any image of a batch can be
 * reproduced alone; -1 picks a random seed.
 *
 * @param sampler  a name from {@code ./sdj schedulers} (euler_a, dpmpp_2m_karras, ddim, ...)
 * @param rng      noise generator: "torch-cpu" (diffusers/ComfyUI on x86 CPUs) or "philox" (A1111's GPU default)
 * @param syntax   A1111 (weights, BREAK, long prompts) or DIFFUSERS (plain text, truncated at 75 tokens)
 * @param clipSkip 1 = the text encoder's last layer (2 = A1111's "clip skip 2")
 * @param initImage img2img: the starting image (resized to width × height), null for txt2img
 * @param strength img2img: how much of the schedule to run (1 = all, the image is only a hint)
 */
public record GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, float guidance,
                                String sampler, long seed, int batch, String rng, TextConditioner.Syntax syntax,
                                int clipSkip, BufferedImage initImage, float strength) {

    public GenerationRequest {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
        if (negativePrompt == null) negativePrompt = "";
        if (width < 0 || height < 0 || width % 8 != 0 || height % 8 != 0) {
            throw new IllegalArgumentException("width and height must be multiples of 8, are " + width + "x" + height);
        }
        if (steps < 0) throw new IllegalArgumentException("steps must be positive, is " + steps);
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, is " + batch);
        if (clipSkip < 1) throw new IllegalArgumentException("clip skip must be at least 1, is " + clipSkip);
        if (!(strength > 0 && strength <= 1)) throw new IllegalArgumentException("strength must be in (0, 1], is " + strength);
        if (sampler == null) sampler = "euler_a";
        if (rng == null) rng = "torch-cpu";
        if (syntax == null) syntax = TextConditioner.Syntax.A1111;
    }

    /** A txt2img request with every default: family size, 20 steps, Euler a, a random seed, A1111 syntax. */
    public static GenerationRequest of(String prompt) {
        return new GenerationRequest(prompt, "", 0, 0, 0, 0f, "euler_a", -1, 1, "torch-cpu", TextConditioner.Syntax.A1111,
                1, null, 1f);
    }

    public GenerationRequest withNegativePrompt(String v) {
        return new GenerationRequest(prompt, v, width, height, steps, guidance, sampler, seed, batch, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withSize(int w, int h) {
        return new GenerationRequest(prompt, negativePrompt, w, h, steps, guidance, sampler, seed, batch, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withSteps(int v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, v, guidance, sampler, seed, batch, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withGuidance(float v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, v, sampler, seed, batch, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withSampler(String v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, v, seed, batch, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withSeed(long v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, sampler, v, batch, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withBatch(int v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, sampler, seed, v, rng, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withRng(String v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, sampler, seed, batch, v, syntax, clipSkip, initImage, strength);
    }

    public GenerationRequest withSyntax(TextConditioner.Syntax v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, sampler, seed, batch, rng, v, clipSkip, initImage, strength);
    }

    public GenerationRequest withClipSkip(int v) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, sampler, seed, batch, rng, syntax, v, initImage, strength);
    }

    /** img2img from {@code image} with {@code strength} in (0, 1]. */
    public GenerationRequest withInitImage(BufferedImage image, float strength) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, guidance, sampler, seed, batch, rng, syntax, clipSkip, image, strength);
    }
}
