package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The reader against files written by Python's safetensors (every .safetensors under tests/golden). */
class GoldenSafetensorsTest {

    private static List<Path> goldenFiles() throws IOException {
        try (Stream<Path> s = Files.walk(Golden.root())) {
            return s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
    }

    @Test
    void everyGoldenFileOpensAndHoldsFiniteValues() throws IOException {
        List<Path> files = goldenFiles();
        assertTrue(files.size() > 50, "expected the golden corpus, found " + files.size() + " files");
        for (Path file : files) {
            try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
                assertFalse(st.names().isEmpty(), file.toString());
                // The reference writer packs tensors back to back: data = file - 8 - header.
                long sum = 0;
                for (String name : st.names()) {
                    Tensor t = st.tensor(name);
                    sum += t.byteSize();
                    if (t.dtype().isFloatingPoint()) {
                        for (float v : t.toFloatArray()) assertTrue(Float.isFinite(v), file + " " + name);
                    }
                }
                assertEquals(st.dataBytes(), sum, file.toString());
            }
        }
    }

    /** torch's .half() rounds to nearest even; the fp16 checkpoint is the fp32 one cast that way. */
    @Test
    void fp16CheckpointIsTheFp32OneRoundedToNearestEven() throws IOException {
        Path dir = Golden.root().resolve("checkpoint-ldm");
        try (SafeTensorsFile f32 = SafeTensorsFile.open(dir.resolve("checkpoint-ldm-tiny.safetensors"));
             SafeTensorsFile f16 = SafeTensorsFile.open(dir.resolve("checkpoint-ldm-tiny-fp16.safetensors"))) {
            assertEquals(f32.names().size(), f16.names().size());
            long checked = 0;
            for (String name : f32.names()) {
                Tensor a = f32.tensor(name), b = f16.tensor(name);
                assertEquals(DType.F32, a.dtype(), name);
                assertEquals(DType.F16, b.dtype(), name);
                float[] full = a.toFloatArray(), half = b.toFloatArray();
                Tensor rounded = a.to(DType.F16);
                for (int i = 0; i < full.length; i++) {
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(full[i])), half[i], name + "[" + i + "]");
                    assertEquals(half[i], rounded.getFloat(i), name + "[" + i + "]");
                }
                checked += full.length;
            }
            assertTrue(checked > 500_000, "checked " + checked);
        }
    }
}
