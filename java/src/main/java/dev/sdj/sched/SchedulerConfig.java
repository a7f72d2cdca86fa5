package dev.sdj.sched;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A diffusers scheduler_config.json. Like diffusers, each scheduler class reads the keys it
 * knows and ignores the rest (SD1.5's config carries PNDM's skip_prk_steps to every sampler);
 * keys missing here take each class's own default, which the class asks for by name.
 */
public final class SchedulerConfig {
    // diffusers writes Python's -Infinity (lambda_min_clipped) as a bare token.
    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    private final String source;
    private final JsonNode node;

    private SchedulerConfig(String source, JsonNode node) {
        if (node == null || !node.isObject()) throw new IllegalArgumentException(source + ": a scheduler config must be a JSON object");
        this.source = source;
        this.node = node;
    }

    public static SchedulerConfig read(Path file) throws IOException {
        return new SchedulerConfig(file.toString(), JSON.readTree(Files.readAllBytes(file)));
    }

    public static SchedulerConfig parse(String source, String json) throws IOException {
        return new SchedulerConfig(source, JSON.readTree(json));
    }

    /** SD1.5's scheduler_config.json (what SD1.x/2.x pipelines ship), without timestep_spacing. */
    public static SchedulerConfig sd15() {
        try {
            return parse("SD1.5 scheduler defaults", """
                    {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                     "num_train_timesteps": 1000, "steps_offset": 1, "set_alpha_to_one": false,
                     "skip_prk_steps": true, "clip_sample": false, "prediction_type": "epsilon"}""");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A copy with {@code key} set (a string, number or boolean), e.g. prediction_type from the CLI. */
    public SchedulerConfig with(String key, Object value) {
        var copy = ((com.fasterxml.jackson.databind.node.ObjectNode) node).deepCopy();
        copy.set(key, JSON.valueToTree(value));
        return new SchedulerConfig(source, copy);
    }

    public String source() {
        return source;
    }

    public String className() {
        return getString("_class_name", null);
    }

    public boolean has(String key) {
        JsonNode v = node.get(key);
        return v != null && !v.isNull();
    }

    public String getString(String key, String dflt) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isTextual()) throw new IllegalArgumentException(source + ": '" + key + "' must be a string, is " + v);
        return v.textValue();
    }

    public double getDouble(String key, double dflt) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw new IllegalArgumentException(source + ": '" + key + "' must be a number, is " + v);
        return v.doubleValue();
    }

    public int getInt(String key, int dflt) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber()) throw new IllegalArgumentException(source + ": '" + key + "' must be an integer, is " + v);
        return v.intValue();
    }

    public boolean getBool(String key, boolean dflt) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw new IllegalArgumentException(source + ": '" + key + "' must be true or false, is " + v);
        return v.booleanValue();
    }

    /** Fails with the key's name when a class meets a value it does not implement. */
    public void require(String key, Object actual, Object supported) {
        if (!java.util.Objects.equals(actual, supported)) {
            throw new IllegalArgumentException(source + ": '" + key + "' = " + actual + " is not implemented by sdj's "
                    + className() + " (supported: " + supported + ")");
        }
    }

    @Override
    public String toString() {
        return node.toString();
    }
}
