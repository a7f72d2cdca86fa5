package dev.sdj.model;

import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Weights from a safetensors file with diffusers' parameter names. Tensors are zero-copy views of
 * the mapping; this object owns the file and closes it. It remembers which names were asked for,
 * so a loader can report the keys a checkpoint has that the model never used.
 */
public final class SafeTensorsWeights implements Weights {
    private final SafeTensorsFile file;
    private final String prefix;
    private final Set<String> used = new LinkedHashSet<>();

    /** Parameters named {@code prefix + name} in {@code file} (prefix "" for a diffusers component file). */
    public SafeTensorsWeights(SafeTensorsFile file, String prefix) {
        this.file = file;
        this.prefix = prefix;
    }

    public static SafeTensorsWeights open(Path path) throws IOException {
        return new SafeTensorsWeights(SafeTensorsFile.open(path), "");
    }

    @Override
    public Tensor get(String name, int... shape) {
        String key = prefix + name;
        try {
            if (!file.contains(key)) {
                throw new WeightsException(source(), key, "missing (the model needs " + Arrays.toString(shape) + ")");
            }
            TensorInfo info = file.info(key);
            if (!Arrays.equals(info.shape(), shape)) {
                throw new WeightsException(source(), key, "has shape " + Arrays.toString(info.shape())
                        + " but the model's config needs " + Arrays.toString(shape));
            }
            used.add(key);
            return file.tensor(key);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Names under this prefix that no {@link #get} asked for. */
    public List<String> unused() {
        return file.names().stream().filter(n -> n.startsWith(prefix) && !used.contains(n)).toList();
    }

    @Override
    public String source() {
        return file.path().toString();
    }

    @Override
    public void close() {
        file.close();
    }
}
