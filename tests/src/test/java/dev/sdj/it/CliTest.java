package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.bindings.CudaLibraries;
import dev.sdj.cli.Main;
import dev.sdj.core.DType;
import dev.sdj.cuda.Cuda;
import dev.sdj.golden.CaseResult;
import dev.sdj.golden.GoldenRunner;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The CLI in-process, as ./sdj runs it. */
class CliTest {

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void infoListsTensorsDtypesShapesAndTotals() throws Exception {
        Path file = Golden.root().resolve("checkpoint-ldm/checkpoint-ldm-tiny-fp16.safetensors");
        Run r = run("info", file.toString());
        assertEquals(0, r.code(), r.err());
        // 929 entries in the header, one of them __metadata__ (format=pt).
        assertTrue(r.out().contains("tensors:  928"), r.out());
        assertTrue(r.out().contains("format = pt"), r.out());
        // Data bytes: the file minus the 8-byte length and the header (the reference writer packs tensors).
        long headerLen;
        try (var ch = Files.newByteChannel(file)) {
            var buf = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(buf);
            headerLen = buf.flip().getLong();
        }
        long data = Files.size(file) - 8 - headerLen;
        assertTrue(r.out().contains(String.format("(%,d bytes)", data)), r.out());
        assertTrue(r.out().contains("F16   928 tensors"), r.out());
        // One tensor line: the U-Net's conv_in in LDM naming, OIHW.
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("model.diffusion_model.input_blocks.0.0.weight") && l.contains("F16")),
                r.out());
    }

    @Test
    void infoOnACorruptFileFailsWithTheFileName(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("broken.safetensors");
        Files.write(bad, new byte[] {1, 2, 3});
        Run r = run("info", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("broken.safetensors"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void everyCommandHasHelp() {
        CommandLine cl = Main.commandLine();
        for (String sub : cl.getSubcommands().keySet()) {
            if (sub.equals("help")) continue;
            Run r = run(sub, "--help");
            assertEquals(0, r.code(), sub + ": " + r.err());
            assertTrue(r.out().contains("Usage: sdj " + sub), sub + ": " + r.out());
        }
        Run top = run("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("info"), top.out());
    }

    // ---- backends and dtypes of golden and bench ----

    /** Whether this machine has a CUDA device (the no-GPU tests below are skipped where it does). */
    static boolean hasCudaDevice() {
        try {
            return CudaLibraries.isAvailable(CudaLibraries.Library.CUDART) && Cuda.deviceCount() > 0;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    static void assertNoStackTrace(Run r) {
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), r.err());
    }

    @Test
    void goldenOnTheCpuBackendIsTheDefaultRun() {
        String root = Golden.root().toString();
        Run explicit = run("golden", root, "--backend", "cpu", "--filter", "unet-sd15-tiny/case-t1");
        assertEquals(0, explicit.code(), explicit.err());
        assertTrue(explicit.out().contains("unet-sd15-tiny/case-t1  PASS  output max_abs "), explicit.out());
        assertTrue(explicit.out().endsWith("1 passed, 0 failed, 0 skipped" + System.lineSeparator()), explicit.out());
        Run fp32 = run("golden", root, "--backend", "cpu", "--dtype", "fp32", "--filter", "unet-sd15-tiny/case-t1");
        Run plain = run("golden", root, "--filter", "unet-sd15-tiny/case-t1");
        // The same lines (the last digits of an error may differ between runs of the CPU backend).
        String shape = "\\d(\\.\\d+)?e-\\d\\d";
        assertEquals(plain.out().replaceAll(shape, "#"), explicit.out().replaceAll(shape, "#"));
        assertEquals(plain.out().replaceAll(shape, "#"), fp32.out().replaceAll(shape, "#"));
        assertFalse(plain.out().contains("backend:"), "the CPU run prints no header: " + plain.out());
    }

    @Test
    void reducedPrecisionOnTheCpuIsRefusedClearly() {
        Run r = run("golden", Golden.root().toString(), "--backend", "cpu", "--dtype", "fp16");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("fp32 only") && r.err().contains("--dtype fp16"), r.err());
        assertEquals("", r.out());
        assertNoStackTrace(r);

        Run bench = run("bench", "--backend", "cpu", "--dtype", "bf16");
        assertEquals(1, bench.code());
        assertTrue(bench.err().contains("fp32 only"), bench.err());
        assertNoStackTrace(bench);

        Run unknown = run("golden", Golden.root().toString(), "--backend", "cuda", "--dtype", "fp8");
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("unknown dtype 'fp8'"), unknown.err());
        Run backend = run("golden", Golden.root().toString(), "--backend", "tpu");
        assertEquals(1, backend.code());
        assertTrue(backend.err().contains("unknown backend 'tpu'"), backend.err());
    }

    @Test
    void cudaWithoutAGpuIsAClearErrorNotAStackTrace() {
        assumeFalse(hasCudaDevice(), "this machine has a CUDA device");
        for (String[] args : new String[][] {
                {"golden", Golden.root().toString(), "--backend", "cuda"},
                {"golden", Golden.root().toString(), "--backend", "cuda", "--dtype", "fp32"},
                {"bench", "--backend", "cuda", "--dtype", "fp16", "--steps", "1", "--warmup", "0"}}) {
            Run r = run(args);
            String what = String.join(" ", args);
            assertNotEquals(0, r.code(), what);
            assertTrue(r.err().startsWith("sdj " + args[0] + ": --backend cuda: "), what + ": " + r.err());
            // No device (a runtime but no driver), or no CUDA runtime at all: either way it says so.
            assertTrue(r.err().contains("no CUDA device") || r.err().contains("cannot load the CUDA runtime"), r.err());
            assertNoStackTrace(r);
            assertEquals("", r.out(), what);
        }
        Run info = run("bench", "--backend", "cuda", "--info");
        assertEquals(1, info.code());
        assertTrue(info.out().contains("devices:") && info.out().contains("backend:      unavailable: --backend cuda: "), info.out());
        assertNoStackTrace(info);
    }

    @Test
    void benchInfoDescribesTheCpuBackend() {
        Run r = run("bench", "--info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("backend:      cpu, fp32, "), r.out());
    }

    @Test
    void reducedPrecisionLimitsWidenOnlyTheCasesTheBackendComputes() throws Exception {
        // What `sdj golden --dtype fp16` does, with the CPU's fp32 results: every case still passes, the model
        // cases (and e2e's per-step records) under the fp16 limits, schedulers and rng under their own.
        List<CaseResult> results = new ArrayList<>();
        Set<String> names = Set.of("unet-sd15-tiny/case-t1", "e2e/sd15-euler-cfg7.5-4steps", "schedulers/ddim/trajectory-4");
        try (CpuBackend cpu = new CpuBackend(); GoldenRunner runner = GoldenRunner.open(Golden.root(), cpu, DType.F16)) {
            runner.runAll(c -> names.contains(c.name()), results::add);
        }
        assertEquals(3, results.size());
        for (CaseResult r : results) {
            assertEquals(CaseResult.Status.PASS, r.status(), r.line());
            boolean model = !r.name().startsWith("schedulers/");
            assertEquals(model, r.detail().contains("(limit 2e-02)"), r.line());
            assertEquals(model, r.detail().contains("3e-02·max|ref|"), r.line());
        }
        String e2e = results.stream().filter(r -> r.name().startsWith("e2e/")).findFirst().orElseThrow().detail();
        assertTrue(e2e.contains("timesteps max_abs 0 (limit 0)"), "timesteps stay exact: " + e2e);
        assertTrue(e2e.matches(".*per_step 24 tensors, worst \\S+ max_abs \\S+ \\(limit .*·max\\|ref\\|\\)\\).*"), e2e);
    }
}
