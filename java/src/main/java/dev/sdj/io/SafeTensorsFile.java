package dev.sdj.io;

import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, mapped read-only as a whole. Tensors are zero-copy views of the mapping: no
 * weight is read until it is touched, and the page cache is shared with every other reader.
 *
 * <p>The header is checked in full at {@link #open}: every entry's dtype, shape and offsets must
 * agree and no two tensors may share bytes, so any {@link #tensor} call on an open file succeeds
 * for a name it lists. Closing the file unmaps it; views taken earlier then throw
 * {@link IllegalStateException} when read, as does every method here but {@link #path} and
 * {@link #close}. Safe to read from several threads; close only when no thread reads any more.
 */
public final class SafeTensorsFile implements AutoCloseable {
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors; // file order
    private final List<String> names;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafeTensorsFile(Path path, Arena arena, MemorySegment mapping, long dataStart, SafeTensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.tensors = new LinkedHashMap<>();
        for (TensorInfo t : header.tensors()) tensors.put(t.name(), t);
        this.names = List.copyOf(tensors.keySet());
        this.metadata = header.metadata();
    }

    /** Maps {@code path} and checks its header; throws {@link SafeTensorsException} for a malformed file. */
    public static SafeTensorsFile open(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafeTensorsException(path, "file is truncated: " + size + " bytes, too short for the 8-byte header length");
            }
            // The mapping outlives the channel; only the arena unmaps it.
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                long n = mapping.get(U64, 0); // unsigned in the format: a huge one reads negative here
                if (n < 0 || n > size - 8) {
                    throw new SafeTensorsException(path, "header length " + Long.toUnsignedString(n)
                            + " beyond the file of " + size + " bytes");
                }
                if (n > SafeTensorsHeader.MAX_HEADER_BYTES) {
                    throw new SafeTensorsException(path, "header length " + n + " exceeds the format's limit of "
                            + SafeTensorsHeader.MAX_HEADER_BYTES + " bytes");
                }
                // Parse a copy: the file may change under the mapping, the parser must not see that.
                byte[] json = mapping.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
                SafeTensorsHeader header = SafeTensorsHeader.parse(path, json, size - 8 - n);
                return new SafeTensorsFile(path, arena, mapping, 8 + n, header);
            } catch (IOException | RuntimeException | Error e) {
                arena.close();
                throw e;
            }
        }
    }

    public Path path() {
        return path;
    }

    /** Tensor names in file order (by data offset; header order among empty tensors at one offset). */
    public List<String> names() {
        requireOpen();
        return names;
    }

    public boolean contains(String name) {
        requireOpen();
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) throws SafeTensorsException {
        requireOpen();
        TensorInfo t = tensors.get(name);
        if (t == null) throw unknown(name);
        return t;
    }

    /** The header's {@code __metadata__} (empty when it has none), unmodifiable. */
    public Map<String, String> metadata() {
        requireOpen();
        return metadata;
    }

    /** A zero-copy host view of tensor {@code name}, valid until this file is closed. */
    public Tensor tensor(String name) throws SafeTensorsException {
        return tensor(name, Layout.PLAIN);
    }

    /** As {@link #tensor(String)}, tagged with {@code layout} (e.g. OIHW for a PyTorch conv weight). */
    public Tensor tensor(String name, Layout layout) throws SafeTensorsException {
        TensorInfo t = info(name);
        MemorySegment data = mapping.asSlice(dataStart + t.begin(), t.byteSize());
        return new Tensor(data, t.dtype(), layout, Device.CPU, t.shape());
    }

    /** Size of the data area (everything after the header), in bytes. */
    public long dataBytes() {
        requireOpen();
        return mapping.byteSize() - dataStart;
    }

    /** Unmaps the file. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        arena.close(); // throws, leaving the file open, while another thread is reading a view
        closed = true;
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException(path + ": safetensors file is closed");
    }

    private SafeTensorsException unknown(String name) {
        String close = closestName(name);
        return new SafeTensorsException(path, name, "no such tensor in the file ("
                + tensors.size() + " tensors" + (close == null ? "" : "; did you mean '" + close + "'?") + ")");
    }

    // A typo or a renamed layer is the usual cause; one suggestion saves a grep through the header.
    private String closestName(String name) {
        String best = null;
        int bestDistance = Math.max(2, name.length() / 4) + 1;
        for (String candidate : tensors.keySet()) {
            if (Math.abs(candidate.length() - name.length()) >= bestDistance) continue;
            int d = editDistance(name, candidate);
            if (d < bestDistance) {
                best = candidate;
                bestDistance = d;
            }
        }
        return best;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    @Override
    public String toString() {
        return "SafeTensorsFile(" + path + ", " + tensors.size() + " tensors)";
    }
}
