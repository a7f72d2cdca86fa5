package dev.sdj.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsRoundTripTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    /** Every dtype, odd shapes, random bytes: what comes back is bit for bit what went in. */
    @Test
    void everyDtypeRoundTripsBitExact() throws IOException {
        Random rnd = new Random(42);
        int[][] shapes = {{3, 1, 5}, {7}, {2, 3, 0}, {}};
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (DType dt : DType.values()) {
            for (int[] shape : shapes) {
                Tensor t = Tensor.zeros(dt, Layout.PLAIN, shape);
                byte[] bytes = new byte[(int) t.byteSize()];
                rnd.nextBytes(bytes);
                if (dt == DType.BOOL) for (int i = 0; i < bytes.length; i++) bytes[i] &= 1;
                MemorySegment.copy(MemorySegment.ofArray(bytes), 0, t.data(), 0, bytes.length);
                tensors.put(dt + "." + shape.length, t);
            }
        }
        Path p = dir.resolve("all.safetensors");
        SafeTensorsWriter.write(p, tensors, null);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.copyOf(tensors.keySet()), f.names());
            assertEquals(Map.of(), f.metadata());
            for (var e : tensors.entrySet()) {
                Tensor want = e.getValue();
                Tensor got = f.tensor(e.getKey());
                assertEquals(want.dtype(), got.dtype(), e.getKey());
                assertArrayEquals(want.shape(), got.shape(), e.getKey());
                assertEquals(Device.CPU, got.device());
                assertEquals(-1, want.data().mismatch(got.data()), e.getKey());
                TensorInfo info = f.info(e.getKey());
                assertEquals(want.numel(), info.numel());
                assertEquals(want.byteSize(), info.byteSize());
            }
            assertEquals(0, f.tensor("F32.3").numel());
            assertEquals(1, f.tensor("F32.0").numel());
            assertEquals(0, f.tensor("F32.0").rank());
        }
    }

    /** Known bit patterns, so a byte-order or width slip cannot hide behind a symmetric bug. */
    @Test
    void knownValuesReadBack() throws IOException {
        Tensor f16 = Tensor.zeros(DType.F16, Layout.PLAIN, 3);
        f16.data().set(I16, 0, (short) 0x3C00); // 1.0
        f16.data().set(I16, 2, (short) 0xC100); // -2.5
        f16.data().set(I16, 4, (short) 0x7BFF); // 65504, the largest finite half
        Tensor bf16 = Tensor.zeros(DType.BF16, Layout.PLAIN, 1);
        bf16.data().set(I16, 0, (short) 0x4049); // 3.140625
        Tensor f64 = Tensor.zeros(DType.F64, Layout.PLAIN, 2);
        f64.data().set(F64, 0, Math.PI);
        f64.data().set(F64, 8, -0.0);
        Tensor i64 = Tensor.zeros(DType.I64, Layout.PLAIN, 2);
        i64.data().set(I64, 0, Long.MIN_VALUE);
        i64.data().set(I64, 8, 1L << 40);
        Tensor i32 = Tensor.zeros(DType.I32, Layout.PLAIN, 2);
        i32.data().set(I32, 0, Integer.MAX_VALUE);
        i32.data().set(I32, 4, -7);
        Tensor i16 = Tensor.zeros(DType.I16, Layout.PLAIN, 1);
        i16.data().set(I16, 0, Short.MIN_VALUE);
        Tensor i8 = Tensor.zeros(DType.I8, Layout.PLAIN, 1);
        i8.data().set(ValueLayout.JAVA_BYTE, 0, (byte) -128);
        Tensor u8 = Tensor.zeros(DType.U8, Layout.PLAIN, 1);
        u8.data().set(ValueLayout.JAVA_BYTE, 0, (byte) 255);
        Tensor bool = Tensor.zeros(DType.BOOL, Layout.PLAIN, 2);
        bool.data().set(ValueLayout.JAVA_BYTE, 1, (byte) 1);
        Tensor f32 = Tensor.of(new float[] {1.5f, -0f, Float.MIN_VALUE, Float.NaN, Float.NEGATIVE_INFINITY, 6f}, 2, 3);

        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("f16", f16);
        in.put("bf16", bf16);
        in.put("f64", f64);
        in.put("i64", i64);
        in.put("i32", i32);
        in.put("i16", i16);
        in.put("i8", i8);
        in.put("u8", u8);
        in.put("bool", bool);
        in.put("f32", f32);
        Path p = dir.resolve("values.safetensors");
        SafeTensorsWriter.write(p, in, null);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertArrayEquals(new float[] {1.0f, -2.5f, 65504f}, f.tensor("f16").toFloatArray());
            assertEquals(3.140625f, f.tensor("bf16").getFloat(0));
            assertEquals(Math.PI, f.tensor("f64").getDouble(0));
            assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(f.tensor("f64").getDouble(1)));
            assertEquals(Long.MIN_VALUE, f.tensor("i64").data().get(I64, 0));
            assertEquals(1L << 40, f.tensor("i64").data().get(I64, 8));
            assertEquals(Integer.MAX_VALUE, f.tensor("i32").data().get(I32, 0));
            assertEquals(-7f, f.tensor("i32").getFloat(1));
            assertEquals(-32768f, f.tensor("i16").getFloat(0));
            assertEquals(-128f, f.tensor("i8").getFloat(0));
            assertEquals(255f, f.tensor("u8").getFloat(0));
            assertArrayEquals(new float[] {0f, 1f}, f.tensor("bool").toFloatArray());
            float[] got = f.tensor("f32").toFloatArray();
            float[] want = f32.toFloatArray();
            for (int i = 0; i < want.length; i++) {
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "f32[" + i + "]");
            }
            assertArrayEquals(new int[] {2, 3}, f.tensor("f32").shape());
        }
    }

    @Test
    void metadataRoundTrips() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "ünïcödé \"quoted\" \n newline");
        meta.put("empty", "");
        Path p = dir.resolve("meta.safetensors");
        SafeTensorsWriter.write(p, Map.of("x", Tensor.of(new float[] {1, 2}, 2)), meta);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(meta, f.metadata());
            assertEquals(List.of("x"), f.names());
            assertThrows(UnsupportedOperationException.class, () -> f.metadata().put("a", "b"));
        }
    }

    @Test
    void tensorsAreZeroCopyViewsOfTheMapping() throws IOException {
        float[] values = new float[4 * 3 * 3 * 3];
        for (int i = 0; i < values.length; i++) values[i] = i * 0.25f - 3;
        Path p = dir.resolve("model.safetensors");
        SafeTensorsWriter.write(p, Map.of("conv_in.weight", Tensor.of(values, 4, 3, 3, 3)), null);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            Tensor t = f.tensor("conv_in.weight", Layout.OIHW);
            assertEquals(Layout.OIHW, t.layout());
            assertTrue(t.data().isNative(), "a view of the mapping, not a heap copy");
            assertTrue(t.data().isMapped(), "a view of the mapping, not a heap copy");
            assertTrue(t.data().isReadOnly());
            assertArrayEquals(values, t.toFloatArray());
            // Two views of one tensor are the same bytes, not two copies.
            assertEquals(t.data().address(), f.tensor("conv_in.weight").data().address());
            assertEquals(Files.size(p) - 8 - headerLength(p), f.dataBytes());
        }
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOf8() throws IOException {
        for (int nameLength = 1; nameLength <= 9; nameLength++) {
            Path p = dir.resolve("pad" + nameLength + ".safetensors");
            SafeTensorsWriter.write(p, Map.of("n".repeat(nameLength), Tensor.of(new float[] {7}, 1)), null);
            long n = headerLength(p);
            assertEquals(0, n % 8, "header length " + n);
            byte[] bytes = Files.readAllBytes(p);
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);
            assertTrue(header.substring(header.lastIndexOf('}') + 1).chars().allMatch(c -> c == ' '), header);
            assertEquals(8 + n + 4, bytes.length);
            try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
                assertEquals(7f, f.tensor("n".repeat(nameLength)).getFloat(0));
            }
        }
    }

    /** Bytes exactly as Python's safetensors writes {"a": torch.tensor([1.0, -2.0])}. */
    @Test
    void readsTheReferenceWritersLayout() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        String padded = json + " ".repeat((8 - json.length() % 8) % 8);
        ByteBuffer b = ByteBuffer.allocate(8 + padded.length() + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded.length()).put(padded.getBytes(StandardCharsets.US_ASCII)).putFloat(1.0f).putFloat(-2.0f);
        Path p = dir.resolve("reference.safetensors");
        Files.write(p, b.array());
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.of("a"), f.names());
            assertEquals(new TensorInfo("a", DType.F32, new int[] {2}, 0, 8), f.info("a"));
            assertArrayEquals(new float[] {1.0f, -2.0f}, f.tensor("a").toFloatArray());
            assertEquals(8, f.dataBytes());
        }
        // Our writer produces the same bytes for the same tensor.
        Path ours = dir.resolve("ours.safetensors");
        SafeTensorsWriter.write(ours, Map.of("a", Tensor.of(new float[] {1.0f, -2.0f}, 2)), null);
        assertArrayEquals(b.array(), Files.readAllBytes(ours));
    }

    @Test
    void namesAreInFileOrder() throws IOException {
        // Header order differs from data order here; names() follows the data.
        String json = "{\"second\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                + "\"first\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + j.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(j.length).put(j).put(new byte[] {1, 2, 3, 4});
        Path p = dir.resolve("order.safetensors");
        Files.write(p, b.array());
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.of("first", "second"), f.names());
            assertArrayEquals(new float[] {3, 4}, f.tensor("second").toFloatArray());
            assertTrue(f.contains("first"));
            assertFalse(f.contains("third"));
        }
    }

    @Test
    void writerReplacesAnExistingFile() throws IOException {
        Path p = dir.resolve("w.safetensors");
        SafeTensorsWriter.write(p, Map.of("old", Tensor.of(new float[] {1}, 1)), null);
        SafeTensorsWriter.write(p, Map.of("new", Tensor.of(new float[] {2}, 1)), null);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.of("new"), f.names());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void writerFailureLeavesNoFileBehind() throws IOException {
        Path p = dir.resolve("fail.safetensors");
        SafeTensorsWriter.write(p, Map.of("kept", Tensor.of(new float[] {5}, 1)), null);
        MemorySegment dead;
        try (Arena arena = Arena.ofConfined()) {
            dead = arena.allocate(16);
        }
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("fine", Tensor.of(new float[1 << 20], 1 << 20));
        in.put("dead", new Tensor(dead, DType.F32, Layout.PLAIN, Device.CPU, 4));
        assertThrows(IllegalStateException.class, () -> SafeTensorsWriter.write(p, in, null));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.of("kept"), f.names(), "the old file is untouched");
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary file left behind");
        }
        Path fresh = dir.resolve("never.safetensors");
        assertThrows(IllegalStateException.class, () -> SafeTensorsWriter.write(fresh, in, null));
        assertFalse(Files.exists(fresh));
    }

    @Test
    void writerRejectsDeviceTensorsAndTheMetadataName() {
        Path p = dir.resolve("x.safetensors");
        Tensor onGpu = new Tensor(MemorySegment.ofAddress(0x10000), DType.F32, Layout.PLAIN, Device.CUDA, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsWriter.write(p, Map.of("w", onGpu), null));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("CUDA"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> SafeTensorsWriter.write(p, Map.of("__metadata__", Tensor.of(new float[] {1}, 1)), null));
        assertTrue(e.getMessage().contains("__metadata__"), e.getMessage());
        assertFalse(Files.exists(p));
    }

    static long headerLength(Path p) throws IOException {
        byte[] b = Files.readAllBytes(p);
        return ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
