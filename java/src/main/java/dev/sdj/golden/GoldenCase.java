package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One entry of a golden folder's cases.json (format: tests/golden/README.md), paths resolved
 * against the folder. Only the fields every case has are read here; references and tolerances
 * are parsed when the case runs, so that one malformed case fails alone instead of the whole run.
 * Their errors do not repeat the case name: the result line starts with it.
 */
public record GoldenCase(String name, String kind, Path dir, Path model, String component, Path config,
                         Path file, JsonNode inputsJson, JsonNode expectedJson, JsonNode toleranceJson, JsonNode json) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every case of {@code dir}/cases.json, in file order. */
    public static List<GoldenCase> readAll(Path dir) throws IOException {
        Path index = dir.resolve("cases.json");
        if (!Files.isRegularFile(index)) throw new NoSuchFileException(index.toString(), null, "no cases.json in this folder");
        JsonNode root = JSON.readTree(index.toFile());
        JsonNode cases = root == null ? null : root.get("cases");
        if (cases == null || !cases.isArray()) throw new GoldenFormatException(index + ": no \"cases\" array");
        List<GoldenCase> out = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) out.add(of(cases.get(i), dir, "cases[" + i + "]"));
        return out;
    }

    /** {@code fallbackName} names a case that has no "name" (it then fails, but is still listed). */
    static GoldenCase of(JsonNode c, Path dir, String fallbackName) {
        String name = text(c, "name");
        return new GoldenCase(name == null ? fallbackName : name, text(c, "kind"), dir, path(c, "model", dir),
                text(c, "component"), path(c, "config", dir), path(c, "file", dir), c.get("inputs"), c.get("expected"),
                c.get("tolerance"), c);
    }

    /**
     * An original single-file (LDM) checkpoint rather than a diffusers folder: the case names
     * which part to load ("component") and its diffusers config.
     */
    public boolean isSingleFile() {
        return component != null || config != null || (model != null && model.getFileName().toString().endsWith(".safetensors"));
    }

    /** Output name → reference, from "expected". */
    public Map<String, Ref> expectedRefs() {
        if (expectedJson == null || !expectedJson.isObject() || expectedJson.isEmpty()) {
            throw new GoldenFormatException("\"expected\" must be a non-empty object");
        }
        Map<String, Ref> refs = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = expectedJson.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            refs.put(e.getKey(), Ref.parse(e.getValue(), file, dir, "expected." + e.getKey()));
        }
        return refs;
    }

    /** Names of the "inputs" entries (empty when there are none). */
    public List<String> inputNames() {
        List<String> names = new ArrayList<>();
        if (inputsJson != null) inputsJson.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** The "inputs" entry {@code arg}, or null. */
    public JsonNode input(String arg) {
        return inputsJson == null ? null : inputsJson.get(arg);
    }

    /** The reference of input {@code arg}; only the object form is one (a bare string there is a literal). */
    public Ref inputRef(String arg) {
        JsonNode n = input(arg);
        if (n == null) throw new GoldenFormatException("no input \"" + arg + "\"");
        if (!Ref.isObjectForm(n)) {
            throw new GoldenFormatException("input \"" + arg + "\" must be a reference ({\"tensor\": key}), is the literal " + n);
        }
        return Ref.parse(n, file, dir, "inputs." + arg);
    }

    public Tolerance tolerance() {
        return Tolerance.parse(toleranceJson);
    }

    private static String text(JsonNode c, String field) {
        JsonNode n = c.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    private static Path path(JsonNode c, String field, Path dir) {
        String s = text(c, field);
        return s == null ? null : dir.resolve(s);
    }
}
