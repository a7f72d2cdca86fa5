package dev.sdj.rng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.sched.NoiseSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every "rng" case of tests/golden/cases.json: the case's draws, in order, from one generator, against
 * the recorded tensors, within the case's max_abs. The worst error (and how many values differ at all)
 * per file is printed at the end.
 */
class RngGoldenTest {
    private static final Path GOLDEN = Path.of("..", "tests", "golden");

    /** file → {worst |diff|, values compared, values not bit-identical}. */
    private static final Map<String, double[]> WORST = new TreeMap<>();

    @TestFactory
    Stream<DynamicTest> everyRngCase() throws Exception {
        JsonNode root = new ObjectMapper().readTree(GOLDEN.resolve("cases.json").toFile());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            if (!"rng".equals(c.path("kind").asText())) continue;
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> runCase(c)));
        }
        assertEquals(105, tests.size(), "rng cases in cases.json");
        return tests.stream();
    }

    /** The generator a case names; torch-cpu's kernel follows from the file (torch-cpu-avx2 / torch-cpu-scalar). */
    static NoiseSource generatorFor(JsonNode c) {
        JsonNode in = c.get("inputs");
        String gen = in.get("generator").asText();
        long seed = Long.parseUnsignedLong(in.get("seed").asText());
        String file = c.get("file").asText();
        return switch (gen) {
            case "torch-cpu" -> new TorchCpuGenerator(seed,
                    file.contains("scalar") ? TorchCpuGenerator.Kernel.SCALAR : TorchCpuGenerator.Kernel.AVX2);
            case "a1111-philox" -> new PhiloxGenerator(seed);
            default -> throw new AssertionError(c.get("name").asText() + ": unknown generator " + gen);
        };
    }

    private static void runCase(JsonNode c) throws Exception {
        String name = c.get("name").asText();
        assertEquals("float32", c.get("inputs").get("dtype").asText(), name);
        double limit = c.get("tolerance").get("max_abs").asDouble();
        Path file = GOLDEN.resolve(c.get("file").asText());
        assertTrue(Files.isRegularFile(file), file + " is missing");
        NoiseSource g = generatorFor(c);
        JsonNode draws = c.get("inputs").get("draws");
        JsonNode expected = c.get("expected");
        assertEquals(draws.size(), expected.size(), name + ": one expected tensor per draw");
        double worst = 0;
        long compared = 0;
        long differing = 0;
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            for (int i = 0; i < draws.size(); i++) {
                int[] shape = new int[draws.get(i).size()];
                for (int k = 0; k < shape.length; k++) shape[k] = draws.get(i).get(k).asInt();
                float[] got = g.randn(shape);
                Tensor want = st.tensor(expected.get("draw" + i).asText());
                assertArrayEquals(shape, want.shape(), name + " draw" + i + ": shape");
                float[] w = want.toFloatArray();
                assertEquals(w.length, got.length, name + " draw" + i + ": numel");
                for (int k = 0; k < w.length; k++) {
                    assertFalse(Float.isNaN(got[k]), name + " draw" + i + "[" + k + "] is NaN");
                    double d = Math.abs((double) got[k] - w[k]);
                    if (Float.floatToRawIntBits(got[k]) != Float.floatToRawIntBits(w[k])) differing++;
                    if (d > worst) worst = d;
                }
                compared += w.length;
            }
        }
        synchronized (WORST) {
            double[] acc = WORST.computeIfAbsent(c.get("file").asText(), f -> new double[3]);
            acc[0] = Math.max(acc[0], worst);
            acc[1] += compared;
            acc[2] += differing;
        }
        assertTrue(worst <= limit, name + ": max_abs " + worst + " > " + limit);
    }

    @AfterAll
    static void printWorst() {
        WORST.forEach((f, a) -> System.out.printf("rng golden %-32s worst max_abs %.3e, %d of %d values not bit-identical%n",
                f, a[0], (long) a[2], (long) a[1]));
    }
}
