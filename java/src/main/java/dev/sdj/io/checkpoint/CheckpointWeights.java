package dev.sdj.io.checkpoint;

import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.TensorInfo;
import dev.sdj.io.checkpoint.LdmKeyMap.Source;
import dev.sdj.model.Weights;
import dev.sdj.model.WeightsException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One component's parameters, asked for by their diffusers names, from a checkpoint file: through
 * an {@link LdmKeyMap} for a single file, by their own names (map null) for a diffusers folder's
 * component file. Every tensor is a view of the mapping (the mapping is the storage; the backend
 * converts each one to its dtype on upload) except OpenCLIP's transposed text_projection.
 */
public final class CheckpointWeights implements Weights {
    private final SharedFile shared;
    private final LdmKeyMap map;
    private final String component;
    private final Set<String> used = new LinkedHashSet<>();
    private boolean closed;

    CheckpointWeights(SharedFile shared, LdmKeyMap map, String component) {
        this.shared = shared.retain();
        this.map = map;
        this.component = component;
    }

    /** The checkpoint tensor that holds diffusers' {@code name}, or null when the naming has none. */
    Source source(String name) {
        return map == null ? Source.of(name) : map.toLdm(name);
    }

    @Override
    public Tensor get(String name, int... shape) {
        SafeTensorsFile file = shared.file;
        Source src = source(name);
        String need = Arrays.toString(shape);
        if (src == null) {
            throw new WeightsException(source(), name, "the " + component + " needs it " + need
                    + ", but the checkpoint naming has no tensor for it");
        }
        try {
            if (!file.contains(src.key())) {
                throw new WeightsException(source(), src.key(), "missing (the " + component + " needs it as '" + name + "' " + need + ")");
            }
            Tensor t = view(file.tensor(src.key()), src);
            if (!Arrays.equals(t.shape(), shape)) {
                TensorInfo info = file.info(src.key());
                throw new WeightsException(source(), src.key(), "has shape " + Arrays.toString(info.shape())
                        + (src.view() == LdmKeyMap.View.AS_IS ? "" : " (seen as " + Arrays.toString(t.shape()) + ")")
                        + " but the " + component + "'s config needs " + need + " for '" + name + "'");
            }
            used.add(src.key());
            return t;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code t} as the diffusers tensor that {@code src} describes. */
    static Tensor view(Tensor t, Source src) {
        return switch (src.view()) {
            case AS_IS -> t;
            case SQUEEZE_1X1 -> t.rank() == 4 && t.dim(2) == 1 && t.dim(3) == 1 ? t.reshape(Layout.PLAIN, t.dim(0), t.dim(1)) : t;
            case THIRD -> {
                if (t.rank() < 1 || t.dim(0) % 3 != 0) yield t; // the shape check then names it
                int[] shape = t.shape();
                shape[0] /= 3;
                long bytes = t.byteSize() / 3;
                MemorySegment third = t.data().asSlice(src.part() * bytes, bytes);
                yield new Tensor(third, t.dtype(), t.layout(), t.device(), shape);
            }
            case TRANSPOSED -> {
                if (t.rank() != 2) yield t;
                int rows = t.dim(0), cols = t.dim(1);
                Tensor out = Tensor.zeros(t.dtype(), Layout.PLAIN, cols, rows);
                // getFloat/setFloat are exact for the float dtypes a checkpoint holds (F32, F16, BF16).
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) out.setFloat((long) j * rows + i, t.getFloat((long) i * cols + j));
                }
                yield out;
            }
        };
    }

    /**
     * Keys of this component (under its map's prefix; every key for a folder's component file) that
     * no {@link #get} used, leaving out training state ({@link LdmKeyMap#ignoredReason}).
     */
    public List<String> unused() {
        String prefix = map == null ? "" : map.prefix();
        return shared.file.names().stream()
                .filter(k -> k.startsWith(prefix) && !used.contains(k) && LdmKeyMap.ignoredReason(k) == null)
                .toList();
    }

    @Override
    public String source() {
        return shared.file.path().toString();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        shared.release();
    }
}
