package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The data files one case references, each opened once and closed with the case. Tensors are
 * zero-copy views of the mapped file: use them before {@link #close}.
 */
final class CaseFiles implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<Path, SafeTensorsFile> tensorFiles = new HashMap<>();
    private final Map<Path, JsonNode> jsonFiles = new HashMap<>();

    /**
     * The referenced tensor on the host, in the file's dtype. A JSON reference must point at a
     * number or a rectangular array of numbers, returned as an F64 tensor.
     */
    Tensor tensor(Ref ref) throws IOException {
        if (ref.kind() == Ref.Kind.JSON) return numbers(json(ref), ref);
        SafeTensorsFile f = tensorFiles.get(ref.file());
        if (f == null) {
            requireFile(ref.file());
            f = SafeTensorsFile.open(ref.file());
            tensorFiles.put(ref.file(), f);
        }
        return f.tensor(ref.key());
    }

    /** The __metadata__ of a safetensors file the case references (e.g. how its noise was drawn). */
    Map<String, String> metadata(Path file) throws IOException {
        SafeTensorsFile f = tensorFiles.get(file);
        if (f == null) {
            requireFile(file);
            f = SafeTensorsFile.open(file);
            tensorFiles.put(file, f);
        }
        return f.metadata();
    }

    /** The JSON value a {@link Ref.Kind#JSON} reference points at. */
    JsonNode json(Ref ref) throws IOException {
        if (ref.kind() != Ref.Kind.JSON) throw new GoldenFormatException(ref + ": a tensor reference where JSON is needed");
        JsonNode root = jsonFiles.get(ref.file());
        if (root == null) {
            requireFile(ref.file());
            root = JSON.readTree(ref.file().toFile());
            jsonFiles.put(ref.file(), root);
        }
        JsonNode value = root.at(ref.key()); // throws IllegalArgumentException for a malformed pointer
        if (value.isMissingNode()) throw new GoldenFormatException(ref.file() + ": nothing at JSON pointer " + ref.key());
        return value;
    }

    private static void requireFile(Path p) throws NoSuchFileException {
        if (!Files.isRegularFile(p)) throw new NoSuchFileException(p.toString(), null, "referenced file does not exist");
    }

    private static Tensor numbers(JsonNode value, Ref ref) {
        List<Integer> shape = new ArrayList<>();
        for (JsonNode n = value; n.isArray(); n = n.size() > 0 ? n.get(0) : JSON.nullNode()) shape.add(n.size());
        int[] dims = shape.stream().mapToInt(Integer::intValue).toArray();
        double[] flat = new double[Math.toIntExact(Tensor.numel(dims))];
        fill(value, 0, dims, flat, new int[1], ref);
        // Host storage is a Java array, as everywhere in sdj (little-endian machines only).
        return new Tensor(MemorySegment.ofArray(flat), DType.F64, Layout.PLAIN, Device.CPU, dims);
    }

    private static void fill(JsonNode n, int depth, int[] dims, double[] flat, int[] pos, Ref ref) {
        if (depth == dims.length) {
            if (!n.isNumber()) throw new GoldenFormatException(ref + ": not a number: " + n);
            flat[pos[0]++] = n.asDouble();
            return;
        }
        if (!n.isArray() || n.size() != dims[depth]) throw new GoldenFormatException(ref + ": not a rectangular array of numbers");
        for (JsonNode child : n) fill(child, depth + 1, dims, flat, pos, ref);
    }

    @Override
    public void close() {
        tensorFiles.values().forEach(SafeTensorsFile::close);
        tensorFiles.clear();
        jsonFiles.clear();
    }
}
