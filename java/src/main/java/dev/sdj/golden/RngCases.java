package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sdj.core.Tensor;
import dev.sdj.rng.PhiloxGenerator;
import dev.sdj.rng.TorchCpuGenerator;
import dev.sdj.sched.NoiseSource;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** The "rng" kind: draws from one seeded generator, in order, against the reference noise. */
final class RngCases {
    private RngCases() {}

    static Map<String, Tensor> run(GoldenCase c, CaseFiles f) throws IOException {
        NoiseSource gen = generator(c, f);
        JsonNode draws = c.input("draws");
        if (draws == null || !draws.isArray()) throw new GoldenFormatException("input \"draws\" must be a list of shapes");
        JsonNode dtype = c.input("dtype");
        if (dtype != null && !dtype.asText().equals("float32")) throw new GoldenFormatException("rng dtype " + dtype + " is not float32");
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < draws.size(); i++) {
            int[] shape = new int[draws.get(i).size()];
            for (int d = 0; d < shape.length; d++) shape[d] = draws.get(i).get(d).intValue();
            out.put("draw" + i, Tensor.of(gen.randn(shape), shape));
        }
        return out;
    }

    /**
     * torch's CPU generator has two kernels (AVX2 and scalar) that differ in the last bits; the
     * reference file's metadata says which one drew it (ATEN_CPU_CAPABILITY), AVX2 when unsaid.
     */
    private static NoiseSource generator(GoldenCase c, CaseFiles f) throws IOException {
        JsonNode name = c.input("generator"), seed = c.input("seed");
        if (name == null || seed == null || !seed.canConvertToLong()) throw new GoldenFormatException("rng cases need \"generator\" and an integer \"seed\"");
        long s = seed.bigIntegerValue().longValue(); // seeds up to 2^64 - 1 wrap as torch and numpy take them
        return switch (name.asText()) {
            case "torch-cpu" -> {
                String capability = c.file() == null ? null : f.metadata(c.file()).get("ATEN_CPU_CAPABILITY");
                TorchCpuGenerator.Kernel kernel = "default".equals(capability) ? TorchCpuGenerator.Kernel.SCALAR : TorchCpuGenerator.Kernel.AVX2;
                yield new TorchCpuGenerator(s, kernel);
            }
            case "a1111-philox" -> new PhiloxGenerator(s);
            default -> throw new GoldenFormatException("unknown generator \"" + name.asText() + "\" (sdj has torch-cpu, a1111-philox)");
        };
    }
}
