package dev.sdj.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and checked JSON header of a safetensors file: its tensors in file order (by begin
 * offset, header order among equal offsets) and its metadata. Every check the reader makes on a
 * header lives here, so that a file either opens with every entry usable or does not open.
 */
record SafeTensorsHeader(List<TensorInfo> tensors, Map<String, String> metadata) {

    /** The format's own cap on the header (the reference reader refuses larger ones). */
    static final long MAX_HEADER_BYTES = 100_000_000;

    static final String METADATA_KEY = "__metadata__";

    // Duplicate names would silently shadow each other in a tree; the reference rejects them too.
    static final ObjectMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /** Parses {@code header} (a copy of the header bytes) for a file whose data area holds {@code dataBytes}. */
    static SafeTensorsHeader parse(Path file, byte[] header, long dataBytes) throws SafeTensorsException {
        String text = utf8(file, header);
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        boolean sawMetadata = false;
        String name = null; // the entry being read, for messages
        try (JsonParser p = JSON.createParser(text)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new SafeTensorsException(file, "header is not a JSON object but " + switch (t) {
                    case null -> "empty";
                    case START_ARRAY -> "an array";
                    case VALUE_STRING -> "a string";
                    case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
                    default -> t.asString();
                });
            }
            while (true) {
                try {
                    t = p.nextToken();
                } catch (StreamReadException e) {
                    // Strict duplicate detection throws while reading the repeated name; say which.
                    String again = p.currentName();
                    if (again != null && String.valueOf(e.getOriginalMessage()).contains("uplicate")) {
                        if (byName.containsKey(again)) {
                            throw new SafeTensorsException(file, again, "name appears twice in the header", e);
                        }
                        if (sawMetadata && again.equals(METADATA_KEY)) {
                            throw new SafeTensorsException(file, null, METADATA_KEY + " appears twice in the header", e);
                        }
                    }
                    throw e;
                }
                if (t == JsonToken.END_OBJECT) break;
                name = p.currentName();
                p.nextToken();
                JsonNode value = p.readValueAsTree();
                if (name.equals(METADATA_KEY)) {
                    metadata = metadata(file, value);
                    sawMetadata = true;
                } else {
                    byName.put(name, entry(file, name, value, dataBytes));
                }
                name = null;
            }
            if (p.nextToken() != null) throw new SafeTensorsException(file, "header has content after its JSON object");
        } catch (SafeTensorsException e) {
            throw e;
        } catch (JsonProcessingException e) { // syntax, or past Jackson's limits (nesting depth, string length)
            throw new SafeTensorsException(file, name, "header is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (at character " + e.getLocation().getCharOffset() + ")"), e);
        } catch (IOException e) { // nothing else reads from a String; keep the cause anyway
            throw new SafeTensorsException(file, name, "cannot parse the header: " + e.getMessage(), e);
        }
        List<TensorInfo> tensors = new ArrayList<>(byName.values());
        tensors.sort(Comparator.comparingLong(TensorInfo::begin)); // stable: header order among equal offsets
        checkOverlaps(file, tensors);
        return new SafeTensorsHeader(Collections.unmodifiableList(tensors), metadata);
    }

    private static String utf8(Path file, byte[] bytes) throws SafeTensorsException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SafeTensorsException(file, null, "header is not valid UTF-8", e);
        }
    }

    private static Map<String, String> metadata(Path file, JsonNode value) throws SafeTensorsException {
        if (value.isNull()) return Map.of(); // what a serde Option writes for "no metadata"; be lenient
        if (!value.isObject()) {
            throw new SafeTensorsException(file, METADATA_KEY + " is not a JSON object of strings but " + kind(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : value.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafeTensorsException(file, METADATA_KEY + " maps '" + e.getKey() + "' to "
                        + kind(e.getValue()) + "; the format allows only strings");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo entry(Path file, String name, JsonNode v, long dataBytes) throws SafeTensorsException {
        if (!v.isObject()) throw new SafeTensorsException(file, name, "entry is not a JSON object but " + kind(v));
        JsonNode dt = field(file, name, v, "dtype");
        if (!dt.isTextual()) throw new SafeTensorsException(file, name, "dtype is not a string but " + kind(dt));
        DType dtype = DType.fromSafetensorsName(dt.textValue()).orElse(null);
        if (dtype == null) {
            throw new SafeTensorsException(file, name, "unknown dtype '" + dt.textValue()
                    + "'; sdj reads " + Arrays.toString(DType.values()));
        }
        int[] shape = shape(file, name, field(file, name, v, "shape"));
        long[] off = offsets(file, name, field(file, name, v, "data_offsets"));
        long begin = off[0], end = off[1];
        String offsets = "data_offsets [" + begin + ", " + end + "]";
        if (begin > end) throw new SafeTensorsException(file, name, offsets + " begin after they end");
        if (end > dataBytes) {
            throw new SafeTensorsException(file, name, offsets + " reach past the data area of " + dataBytes
                    + " bytes: the file is truncated, " + (end - dataBytes) + " bytes missing");
        }
        long need;
        try {
            need = Math.multiplyExact(Tensor.numel(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafeTensorsException(file, name, "shape " + dtype + Arrays.toString(shape) + " is too large");
        }
        if (end - begin != need) {
            throw new SafeTensorsException(file, name, offsets + " hold " + (end - begin) + " bytes but "
                    + dtype + Arrays.toString(shape) + " needs " + need);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode field(Path file, String name, JsonNode entry, String key) throws SafeTensorsException {
        JsonNode v = entry.get(key);
        if (v == null) throw new SafeTensorsException(file, name, "entry has no \"" + key + "\"");
        return v;
    }

    private static int[] shape(Path file, String name, JsonNode v) throws SafeTensorsException {
        if (!v.isArray()) throw new SafeTensorsException(file, name, "shape is not an array but " + kind(v));
        int[] shape = new int[v.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = v.get(i);
            if (!d.isIntegralNumber()) {
                throw new SafeTensorsException(file, name, "shape " + v + " has a non-integer dimension " + d);
            }
            if (d.canConvertToLong() && d.longValue() < 0 || !d.canConvertToLong() && d.bigIntegerValue().signum() < 0) {
                throw new SafeTensorsException(file, name, "shape " + v + " has a negative dimension " + d);
            }
            // Tensor shapes are int[]; a larger dimension could not be addressed anyway.
            if (!d.canConvertToInt()) {
                throw new SafeTensorsException(file, name, "shape " + v + " has a dimension " + d + " beyond " + Integer.MAX_VALUE);
            }
            shape[i] = d.intValue();
        }
        return shape;
    }

    private static long[] offsets(Path file, String name, JsonNode v) throws SafeTensorsException {
        if (!v.isArray() || v.size() != 2) {
            throw new SafeTensorsException(file, name, "data_offsets is not an array [begin, end] but " + v);
        }
        long[] out = new long[2];
        for (int i = 0; i < 2; i++) {
            JsonNode o = v.get(i);
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                throw new SafeTensorsException(file, name, "data_offsets " + v + " are not two non-negative byte offsets");
            }
            out[i] = o.longValue();
        }
        return out;
    }

    // Empty tensors own no bytes and may sit anywhere; holes between tensors are tolerated.
    private static void checkOverlaps(Path file, List<TensorInfo> sorted) throws SafeTensorsException {
        TensorInfo reach = null; // the tensor that ends furthest so far
        for (TensorInfo t : sorted) {
            if (t.begin() == t.end()) continue;
            if (reach != null && t.begin() < reach.end()) {
                throw new SafeTensorsException(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap those of tensor '" + reach.name() + "' [" + reach.begin() + ", " + reach.end() + "]");
            }
            if (reach == null || t.end() > reach.end()) reach = t;
        }
    }

    private static String kind(JsonNode v) {
        return switch (v.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "the string " + v;
            case NULL -> "null";
            default -> v.getNodeType().name().toLowerCase() + " " + v;
        };
    }
}
