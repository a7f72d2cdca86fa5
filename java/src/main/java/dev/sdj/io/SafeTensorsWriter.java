package dev.sdj.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sdj.core.Device;
import dev.sdj.core.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes host tensors as a safetensors file: the header (metadata first, then the tensors in the
 * map's iteration order), padded with spaces so the data area starts 8-aligned as the reference
 * writer does, then each tensor's bytes, contiguous and in the same order.
 *
 * <p>The file is written beside {@code path} under a temporary name and moved over it only when
 * complete, so a failure never leaves a half-written file at {@code path}, and a reader that has
 * the old file mapped keeps seeing the old file.
 */
public final class SafeTensorsWriter {
    private static final int CHUNK = 1 << 20;

    private SafeTensorsWriter() {}

    /**
     * Writes {@code tensors} to {@code path}, replacing any file there. {@code metadata} may be null.
     *
     * @throws IllegalArgumentException for a tensor not on the host, a null or reserved name
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = header(tensors, metadata);
        Path tmp = path.resolveSibling("." + path.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
                writeFully(ch, ByteBuffer.wrap(header));
                // Tensor storage may be a float[], a mapping or native memory; only a byte[] wraps
                // as a ByteBuffer for every kind, so stage through one.
                byte[] buf = new byte[CHUNK];
                MemorySegment bufSeg = MemorySegment.ofArray(buf);
                for (Tensor t : tensors.values()) {
                    MemorySegment data = t.data();
                    for (long off = 0; off < data.byteSize(); off += CHUNK) {
                        int n = (int) Math.min(CHUNK, data.byteSize() - off);
                        MemorySegment.copy(data, off, bufSeg, 0, n);
                        writeFully(ch, ByteBuffer.wrap(buf, 0, n));
                    }
                }
                ch.force(true); // the data must be on disk before the rename makes it the file
            }
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private static byte[] header(Map<String, Tensor> tensors, Map<String, String> metadata) throws JsonProcessingException {
        ObjectNode root = SafeTensorsHeader.JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject(SafeTensorsHeader.METADATA_KEY);
            metadata.forEach((k, v) -> {
                if (k == null || v == null) throw new IllegalArgumentException("metadata has a null key or value: " + k + " -> " + v);
                m.put(k, v);
            });
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null) throw new IllegalArgumentException("tensor name is null");
            if (name.equals(SafeTensorsHeader.METADATA_KEY)) {
                throw new IllegalArgumentException("tensor name '" + name + "' is reserved for the header's metadata");
            }
            if (t == null) throw new IllegalArgumentException("tensor '" + name + "' is null");
            if (t.device() != Device.CPU) {
                throw new IllegalArgumentException("tensor '" + name + "' lives on " + t.device() + "; download it to the host first");
            }
            ObjectNode entry = root.putObject(name);
            entry.put("dtype", t.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (int d : t.shape()) shape.add(d);
            entry.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] json = SafeTensorsHeader.JSON.writeValueAsBytes(root);
        int padded = (json.length + 7) & ~7;
        if (padded > SafeTensorsHeader.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("header of " + padded + " bytes exceeds the format's limit of "
                    + SafeTensorsHeader.MAX_HEADER_BYTES);
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
