package dev.sdj.backend;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.backend.cuda.CudaBackend;
import dev.sdj.core.DType;

import java.util.Locale;

/** Backends by the names the CLI and the API use: {@code cpu} (fp32) and {@code cuda} (fp16, bf16 or fp32). */
public final class Backends {
    private Backends() {}

    /**
     * A new backend. {@code dtype} is the compute/storage type, "fp16", "bf16" or "fp32" (null: the backend's
     * default, fp32 on the CPU and fp16 on CUDA); the CPU backend computes in fp32 only.
     */
    public static Backend create(String name, String dtype) {
        String n = name == null ? "cpu" : name.toLowerCase(Locale.ROOT);
        return switch (n) {
            case "cpu" -> {
                if (dtype != null && parseDtype(dtype) != DType.F32) {
                    throw new IllegalArgumentException("the CPU backend computes in fp32 only; --dtype " + dtype
                            + " needs --backend cuda");
                }
                yield new CpuBackend();
            }
            case "cuda" -> new CudaBackend(dtype == null ? DType.F16 : parseDtype(dtype));
            default -> throw new IllegalArgumentException("unknown backend '" + name + "'; choose cpu or cuda");
        };
    }

    /** "fp16" / "f16" / "half", "bf16", "fp32" / "f32" / "float" → the DType. */
    public static DType parseDtype(String dtype) {
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "fp16", "f16", "half", "float16" -> DType.F16;
            case "bf16", "bfloat16" -> DType.BF16;
            case "fp32", "f32", "float", "float32" -> DType.F32;
            default -> throw new IllegalArgumentException("unknown dtype '" + dtype + "'; choose fp16, bf16 or fp32");
        };
    }
}
