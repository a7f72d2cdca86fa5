package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * Where a reference value lies: a tensor key in a .safetensors file ({@link Kind#TENSOR}) or an
 * RFC 6901 JSON pointer into a .json file ({@link Kind#JSON}). {@code file} is already resolved
 * against the golden folder.
 */
public record Ref(Kind kind, String key, Path file) {

    public enum Kind { TENSOR, JSON }

    /** True when {@code node} is the object form of a reference ({"tensor": ...} or {"json": ...}). */
    static boolean isObjectForm(JsonNode node) {
        return node != null && node.isObject() && (node.has("tensor") || node.has("json"));
    }

    /**
     * A reference as written in "expected" (and the like): a bare string is a key of the case's own
     * file (a JSON pointer when that file is .json), or the object form, whose "file" defaults to the
     * case's file. {@code what} names the field in error messages.
     */
    static Ref parse(JsonNode node, Path caseFile, Path dir, String what) {
        if (node != null && node.isTextual()) {
            if (caseFile == null) throw new GoldenFormatException(what + ": a bare reference needs the case's \"file\"");
            return new Ref(isJsonFile(caseFile) ? Kind.JSON : Kind.TENSOR, node.asText(), caseFile);
        }
        if (!isObjectForm(node)) {
            throw new GoldenFormatException(what + ": expected a reference (a key, {\"tensor\": key} or {\"json\": pointer}), got " + node);
        }
        // Strict about field names: a typo ("tensors", "fiel") would otherwise silently change what is compared.
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("tensor") && !f.equals("json") && !f.equals("file")) {
                throw new GoldenFormatException(what + ": unknown field \"" + f + "\" in reference " + node);
            }
        }
        if (node.has("tensor") && node.has("json")) {
            throw new GoldenFormatException(what + ": a reference has either \"tensor\" or \"json\", not both: " + node);
        }
        Kind kind = node.has("tensor") ? Kind.TENSOR : Kind.JSON;
        JsonNode key = node.get(kind == Kind.TENSOR ? "tensor" : "json");
        if (!key.isTextual()) throw new GoldenFormatException(what + ": the key must be a string: " + node);
        Path file;
        if (node.has("file")) {
            if (!node.get("file").isTextual()) throw new GoldenFormatException(what + ": \"file\" must be a string: " + node);
            file = dir.resolve(node.get("file").asText());
        } else if (caseFile != null) {
            file = caseFile;
        } else {
            throw new GoldenFormatException(what + ": reference without \"file\" in a case without \"file\": " + node);
        }
        return new Ref(kind, key.asText(), file);
    }

    static boolean isJsonFile(Path p) {
        return p.getFileName().toString().endsWith(".json");
    }

    @Override
    public String toString() {
        return file + (kind == Kind.TENSOR ? " tensor '" + key + "'" : " JSON " + key);
    }
}
