package dev.sdj.pipeline;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What a generation produced: one image per batch entry with its seed and A1111-style parameters text (what
 * the PNG's "parameters" chunk holds), and the time each stage took (text, denoise, decode; upload/encode for
 * img2img), in order.
 */
public record GenerationResult(List<Image> images, Map<String, Duration> timings) {

    /** One image: pixels, the seed that made it and its parameters line. */
    public record Image(BufferedImage image, long seed, String parameters) {}

    public Duration total() {
        return timings.values().stream().reduce(Duration.ZERO, Duration::plus);
    }
}
