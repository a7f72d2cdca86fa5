package dev.sdj.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Objects;
import java.util.Set;

/**
 * A diffusers {@code config.json} read option by option with diffusers' defaults for what it
 * leaves out. Every option read is remembered; {@link #rejectUnread} then fails on any option
 * the model did not read, so nothing in a config is ever silently ignored.
 */
public final class DiffusersConfig {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String source;
    private final ObjectNode node;
    private final Set<String> read = new HashSet<>();

    public DiffusersConfig(String source, JsonNode node) {
        if (!(node instanceof ObjectNode obj)) throw new ConfigException(source, "(root)", "must be a JSON object");
        this.source = source;
        this.node = obj;
    }

    public static DiffusersConfig read(Path configJson) throws IOException {
        return new DiffusersConfig(configJson.toString(), JSON.readTree(Files.readAllBytes(configJson)));
    }

    public static DiffusersConfig parse(String source, String json) throws IOException {
        return new DiffusersConfig(source, JSON.readTree(json));
    }

    public String source() {
        return source;
    }

    private JsonNode get(String key) {
        read.add(key);
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? null : v;
    }

    public boolean has(String key) {
        JsonNode v = node.get(key);
        return v != null && !v.isNull();
    }

    public int getInt(String key, int dflt) {
        JsonNode v = get(key);
        if (v == null) return dflt;
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw new ConfigException(source, key, "must be an integer, is " + v);
        return v.intValue();
    }

    public Integer getIntOrNull(String key) {
        return has(key) ? getInt(key, 0) : markNull(key);
    }

    private Integer markNull(String key) {
        read.add(key);
        return null;
    }

    public double getDouble(String key, double dflt) {
        JsonNode v = get(key);
        if (v == null) return dflt;
        if (!v.isNumber()) throw new ConfigException(source, key, "must be a number, is " + v);
        return v.doubleValue();
    }

    public boolean getBool(String key, boolean dflt) {
        JsonNode v = get(key);
        if (v == null) return dflt;
        if (!v.isBoolean()) throw new ConfigException(source, key, "must be true or false, is " + v);
        return v.booleanValue();
    }

    public String getString(String key, String dflt) {
        JsonNode v = get(key);
        if (v == null) return dflt;
        if (!v.isTextual()) throw new ConfigException(source, key, "must be a string, is " + v);
        return v.textValue();
    }

    public String[] getStrings(String key, String[] dflt) {
        JsonNode v = get(key);
        if (v == null) return dflt;
        if (!v.isArray()) throw new ConfigException(source, key, "must be a list of strings, is " + v);
        String[] out = new String[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isTextual()) throw new ConfigException(source, key, "must be a list of strings, is " + v);
            out[i] = v.get(i).textValue();
        }
        return out;
    }

    public int[] getInts(String key, int[] dflt) {
        JsonNode v = get(key);
        if (v == null) return dflt;
        if (!v.isArray()) throw new ConfigException(source, key, "must be a list of integers, is " + v);
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isIntegralNumber()) throw new ConfigException(source, key, "must be a list of integers, is " + v);
            out[i] = v.get(i).intValue();
        }
        return out;
    }

    /** An int, or a list of {@code n} ints (one per block): diffusers accepts both for many options. */
    public int[] getIntPerBlock(String key, int n, Integer dflt) {
        JsonNode v = get(key);
        if (v == null) {
            if (dflt == null) throw new ConfigException(source, key, "is required");
            int[] out = new int[n];
            java.util.Arrays.fill(out, dflt);
            return out;
        }
        if (v.isIntegralNumber()) {
            int[] out = new int[n];
            java.util.Arrays.fill(out, v.intValue());
            return out;
        }
        int[] out = getInts(key, null);
        if (out.length != n) throw new ConfigException(source, key, "has " + out.length + " entries; the model has " + n + " blocks");
        return out;
    }

    /** Reads {@code key} and fails unless it is absent, null, or equal to {@code supported} (the only value sdj implements). */
    public void requireValue(String key, Object supported) {
        JsonNode v = get(key);
        if (v == null) return;
        Object actual = v.isBoolean() ? v.booleanValue() : v.isIntegralNumber() ? v.intValue()
                : v.isNumber() ? v.doubleValue() : v.isTextual() ? v.textValue() : v.toString();
        boolean same = supported instanceof Number s && actual instanceof Number a
                ? s.doubleValue() == a.doubleValue() : Objects.equals(supported, actual);
        if (!same) {
            throw new ConfigException(source, key, "= " + v + " is not implemented by sdj (supported: "
                    + (supported == null ? "null" : supported) + ")");
        }
    }

    /** Reads {@code key}, which must be absent or null: sdj implements no value of it. */
    public void requireNull(String key) {
        JsonNode v = get(key);
        if (v != null) throw new ConfigException(source, key, "= " + v + " is not implemented by sdj (only null/absent)");
    }

    /** Marks {@code key} as read whatever its value (options with no effect at inference, such as dropout). */
    public void ignore(String key) {
        read.add(key);
    }

    /** Fails on the first option no one read. Keys starting with "_" are diffusers' bookkeeping. */
    public void rejectUnread() {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.startsWith("_") && !read.contains(key)) {
                throw new ConfigException(source, key, "= " + node.get(key) + " is not known to sdj");
            }
        }
    }
}
