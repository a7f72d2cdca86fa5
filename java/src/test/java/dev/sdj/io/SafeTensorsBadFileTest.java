package dev.sdj.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.core.Tensor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One malformed file per test, built by hand; each must fail at open with a message that says where. */
class SafeTensorsBadFileTest {
    @TempDir
    Path dir;

    private static final String W = "{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";

    @Test
    void truncatedFile() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafeTensorsWriter.write(good, Map.of("w", Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)), null);
        byte[] bytes = Files.readAllBytes(good);
        Path p = raw("cut.safetensors", Arrays.copyOf(bytes, bytes.length - 5));
        var e = fails(p, "w");
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("5 bytes missing"), e.getMessage());
    }

    @Test
    void fileUnder8Bytes() throws IOException {
        Path p = raw("tiny.safetensors", new byte[] {1, 0, 0});
        var e = fails(p, null);
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        fails(raw("empty.safetensors", new byte[0]), null);
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        byte[] b = file("{}", 0);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1000);
        var e = fails(raw("long.safetensors", b), null);
        assertTrue(e.getMessage().contains("header length 1000 beyond the file of 10 bytes"), e.getMessage());
        // A u64 with the top bit set must not pass as a negative Java long.
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1);
        e = fails(raw("huge.safetensors", b), null);
        assertTrue(e.getMessage().contains("18446744073709551615"), e.getMessage());
    }

    @Test
    void headerLengthOverTheFormatsLimit() throws IOException {
        Path p = dir.resolve("bloated.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(8 + 100_000_008L); // sparse: no 100 MB written
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 100_000_001L).array());
        }
        var e = fails(p, null);
        assertTrue(e.getMessage().contains("100000001") && e.getMessage().contains("limit"), e.getMessage());
    }

    @Test
    void headerNotJson() throws IOException {
        var e = fails(write("garbage.safetensors", "{\"w\": {\"dtype\": F32}}", 0), "w");
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
        e = fails(write("text.safetensors", "hello world", 0), null);
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] json = "{\"w\u00FF\":{}}".getBytes(StandardCharsets.ISO_8859_1);
        byte[] b = ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json).array();
        var e = fails(raw("latin1.safetensors", b), null);
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
    }

    @Test
    void headerIsAJsonArray() throws IOException {
        var e = fails(write("array.safetensors", "[" + W + "]", 16), null);
        assertTrue(e.getMessage().contains("not a JSON object but an array"), e.getMessage());
    }

    @Test
    void offsetsOutsideTheDataArea() throws IOException {
        var e = fails(write("outside.safetensors", "{\"w\":" + W + "}", 12), "w");
        assertTrue(e.getMessage().contains("data_offsets [0, 16]") && e.getMessage().contains("4 bytes missing"), e.getMessage());
    }

    @Test
    void overlappingOffsets() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        var e = fails(write("overlap.safetensors", json, 12), "b");
        assertTrue(e.getMessage().contains("overlap") && e.getMessage().contains("'a'"), e.getMessage());
    }

    @Test
    void holesAndEmptyTensorsAreAllowed() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[2,2]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        try (SafeTensorsFile f = SafeTensorsFile.open(write("holes.safetensors", json, 16))) {
            assertEquals(0, f.tensor("e").numel());
            assertEquals(3, f.names().size());
        }
    }

    @Test
    void sizeNotMatchingShapeTimesDtype() throws IOException {
        String json = "{\"conv_in.weight\":{\"dtype\":\"F32\",\"shape\":[4,3,3,3],\"data_offsets\":[0,100]}}";
        var e = fails(write("model.safetensors", json, 100), "conv_in.weight");
        assertTrue(e.getMessage().endsWith("model.safetensors: tensor 'conv_in.weight': "
                + "data_offsets [0, 100] hold 100 bytes but F32[4, 3, 3, 3] needs 432"), e.getMessage());
    }

    @Test
    void unknownDtype() throws IOException {
        var e = fails(write("f8.safetensors", "{\"w\":{\"dtype\":\"F8_E9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2), "w");
        assertTrue(e.getMessage().contains("F8_E9") && e.getMessage().contains("BF16"), e.getMessage());
    }

    @Test
    void duplicateNames() throws IOException {
        var e = fails(write("dup.safetensors", "{\"w\":" + W + ",\"v\":" + W.replace("0,16", "16,32") + ",\"w\":" + W + "}", 32), "w");
        assertTrue(e.getMessage().contains("twice"), e.getMessage());
        // A key repeated inside an entry is just as ambiguous.
        e = fails(write("dupkey.safetensors", "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "w");
        assertTrue(e.getMessage().contains("dtype"), e.getMessage());
    }

    @Test
    void negativeDimension() throws IOException {
        var e = fails(write("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", 16), "w");
        assertTrue(e.getMessage().contains("negative dimension"), e.getMessage());
    }

    @Test
    void dimensionBeyondInt() throws IOException {
        var e = fails(write("big.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296],\"data_offsets\":[0,4]}}", 4), "w");
        assertTrue(e.getMessage().contains("4294967296"), e.getMessage());
    }

    @Test
    void beginAfterEnd() throws IOException {
        var e = fails(write("backwards.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "w");
        assertTrue(e.getMessage().contains("data_offsets [8, 0]"), e.getMessage());
    }

    @Test
    void malformedEntries() throws IOException {
        fails(write("e1.safetensors", "{\"w\":[1,2]}", 0), "w");
        fails(write("e2.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "w");
        fails(write("e3.safetensors", "{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "w");
        fails(write("e4.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8), "w");
        fails(write("e5.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8), "w");
        fails(write("e6.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), "w");
        fails(write("e7.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8), "w");
        fails(write("e8.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "w");
        fails(write("e9.safetensors", "{\"w\":" + W + "} trailing", 16), null);
    }

    @Test
    void metadataWithANonStringValue() throws IOException {
        var e = fails(write("meta.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3},\"w\":" + W + "}", 16), null);
        assertTrue(e.getMessage().contains("__metadata__") && e.getMessage().contains("epoch"), e.getMessage());
        e = fails(write("meta2.safetensors", "{\"__metadata__\":[\"pt\"]}", 0), null);
        assertTrue(e.getMessage().contains("__metadata__"), e.getMessage());
    }

    @Test
    void unknownTensorName() throws IOException {
        Path p = write("model.safetensors", "{\"conv_in.weight\":" + W + "}", 16);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            var e = assertThrows(SafeTensorsException.class, () -> f.tensor("conv_in.wieght"));
            assertTrue(e.getMessage().startsWith(p + ": tensor 'conv_in.wieght'"), e.getMessage());
            assertTrue(e.getMessage().contains("did you mean 'conv_in.weight'"), e.getMessage());
            assertEquals("conv_in.wieght", e.tensor());
            assertEquals(p, e.file());
            e = assertThrows(SafeTensorsException.class, () -> f.info("unet.something.else"));
            assertTrue(e.getMessage().contains("'unet.something.else'") && !e.getMessage().contains("did you mean"), e.getMessage());
        }
    }

    @Test
    void useAfterClose() throws IOException {
        Path p = dir.resolve("closed.safetensors");
        SafeTensorsWriter.write(p, Map.of("w", Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)), null);
        SafeTensorsFile f = SafeTensorsFile.open(p);
        Tensor view = f.tensor("w");
        assertEquals(1f, view.getFloat(0));
        f.close();
        f.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> view.getFloat(0));
        assertThrows(IllegalStateException.class, view::toFloatArray);
        var e = assertThrows(IllegalStateException.class, () -> f.tensor("w"));
        assertTrue(e.getMessage().contains("closed.safetensors"), e.getMessage());
        assertThrows(IllegalStateException.class, f::names);
        assertThrows(IllegalStateException.class, () -> f.info("w"));
        assertThrows(IllegalStateException.class, f::metadata);
        assertEquals(p, f.path());
    }

    // --- helpers

    /** Opening {@code p} must fail naming the file and, when given, the tensor. */
    private static SafeTensorsException fails(Path p, String tensor) {
        var e = assertThrows(SafeTensorsException.class, () -> SafeTensorsFile.open(p).close());
        assertTrue(e.getMessage().contains(p.getFileName().toString()), e.getMessage());
        assertEquals(p, e.file());
        if (tensor != null) {
            assertTrue(e.getMessage().contains("tensor '" + tensor + "'"), e.getMessage());
            assertEquals(tensor, e.tensor());
        } else {
            assertNull(e.tensor(), e.getMessage());
        }
        return e;
    }

    /** A file of the u64 header length, the header and {@code dataBytes} bytes of data. */
    private Path write(String name, String json, int dataBytes) throws IOException {
        return raw(name, file(json, dataBytes));
    }

    private static byte[] file(String json, int dataBytes) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + j.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN).putLong(j.length).put(j).array();
    }

    private Path raw(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }
}
