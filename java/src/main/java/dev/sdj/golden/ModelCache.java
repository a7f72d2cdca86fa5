package dev.sdj.golden;

import dev.sdj.backend.Backend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Models loaded once per folder (or checkpoint file and config) for a whole run (several cases
 * share one model) and closed with it. A load that failed is remembered too: every case of that
 * model fails with the same message, without loading the weights again.
 */
final class ModelCache implements AutoCloseable {

    interface Loader<T> {
        T load(Path dir, Backend backend) throws IOException;
    }

    private final Backend backend;
    private final Map<String, Object> loaded = new LinkedHashMap<>(); // key -> the model, or what its load threw

    ModelCache(Backend backend) {
        this.backend = backend;
    }

    <T extends AutoCloseable> T get(Path dir, Class<T> type, Loader<T> loader) throws IOException {
        return get(dir, null, type, loader);
    }

    /**
     * The model at {@code path}: a folder, or a single-file checkpoint read with {@code config}
     * (which keys the cache too: one file may be read with several configs).
     */
    <T extends AutoCloseable> T get(Path path, Path config, Class<T> type, Loader<T> loader) throws IOException {
        // Keyed by class too: a folder or checkpoint file holds more than one part.
        String key = type.getName() + " " + path.toAbsolutePath().normalize() + (config == null ? "" : " " + config.toAbsolutePath().normalize());
        Object entry = loaded.get(key);
        if (entry == null) {
            try {
                if (!Files.exists(path)) {
                    String name = path.getFileName().toString();
                    boolean file = name.endsWith(".safetensors") || name.endsWith(".ckpt");
                    throw new NoSuchFileException(path.toString(), null, file ? "checkpoint file does not exist" : "model folder does not exist");
                }
                entry = loader.load(path, backend);
            } catch (IOException | RuntimeException e) {
                entry = e;
            }
            loaded.put(key, entry);
        }
        if (entry instanceof IOException e) throw e;
        if (entry instanceof RuntimeException e) throw e;
        return type.cast(entry);
    }

    /** Closes every model, newest first; the first failure is thrown after all were tried. */
    @Override
    public void close() {
        List<Object> entries = new ArrayList<>(loaded.values());
        loaded.clear();
        RuntimeException first = null;
        for (int i = entries.size() - 1; i >= 0; i--) {
            if (!(entries.get(i) instanceof AutoCloseable model)) continue;
            try {
                model.close();
            } catch (Exception e) {
                if (first == null) first = new IllegalStateException("closing a model: " + e.getMessage(), e);
            }
        }
        if (first != null) throw first;
    }
}
