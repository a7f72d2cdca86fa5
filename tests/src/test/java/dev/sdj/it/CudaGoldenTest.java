package dev.sdj.it;

import dev.sdj.backend.cuda.CudaBackend;
import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.CudaLibraries.Library;
import dev.sdj.core.DType;
import dev.sdj.cuda.Cuda;
import dev.sdj.golden.CaseResult;
import dev.sdj.golden.GoldenRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The model golden cases (U-Net of the three topologies, VAE decode and encode, the end-to-end CFG loops and
 * the single-file checkpoints) on the CUDA backend in fp32, held to each case's own tolerance: the same bar
 * the CPU backend passes. fp16 and bf16 run through {@code sdj golden --backend cuda --dtype fp16}, with the
 * tolerance that command states. Skipped, with the reason, without a CUDA device.
 */
class CudaGoldenTest {
    private static final Set<String> MODEL_KINDS = Set.of("unet", "vae-decode", "vae-encode", "e2e");
    private static CudaBackend backend;
    private static GoldenRunner runner;

    @BeforeAll
    static void open() throws Exception {
        assumeTrue(CudaLibraries.isAvailable(Library.CUDART), "no CUDA runtime (libcudart.so.13) on this machine");
        assumeTrue(Cuda.deviceCount() > 0, () -> "no CUDA device: " + Cuda.noDeviceReason().getMessage());
        backend = new CudaBackend(DType.F32);
        runner = GoldenRunner.open(Golden.root(), backend);
    }

    @AfterAll
    static void close() {
        if (runner != null) runner.close();
        if (backend != null) backend.close();
    }

    @TestFactory
    Stream<DynamicTest> modelCasesPassInFp32() {
        return runner.cases().stream().filter(c -> MODEL_KINDS.contains(c.kind())).map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            CaseResult r = runner.run(c);
            System.out.println("cuda fp32 " + r.line());
            assertEquals(CaseResult.Status.PASS, r.status(), r.line());
        }));
    }
}
