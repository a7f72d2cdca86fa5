package dev.sdj.golden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import dev.sdj.golden.CaseResult.Status;
import dev.sdj.io.SafeTensorsWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runner on hand-made folders that need no model: skips, and failures that stay within their
 * case. (Runs against real models are in the tests module, GoldenCasesTest.)
 */
class GoldenRunnerTest {

    @TempDir
    Path dir;

    private List<CaseResult> run(String casesJson) throws Exception {
        Files.writeString(dir.resolve("cases.json"), "{\"version\": 1, \"cases\": [" + casesJson + "]}");
        try (CpuBackend cpu = new CpuBackend(); GoldenRunner runner = GoldenRunner.open(dir, cpu)) {
            List<CaseResult> seen = new ArrayList<>();
            List<CaseResult> results = runner.runAll(c -> true, seen::add);
            assertEquals(results, seen);
            return results;
        }
    }

    private static void assertResult(CaseResult r, String name, Status status, String detailPart) {
        assertEquals(name, r.name());
        assertEquals(status, r.status(), r.line());
        assertTrue(r.detail().contains(detailPart), r.line());
    }

    @Test
    void skipsWhatTheEngineDoesNotRunAndFailsBrokenCasesOneByOne() throws Exception {
        Files.writeString(dir.resolve("p.json"), "{\"cases\": [{\"result\": [[\"a\", 1.1]]}]}");
        SafeTensorsWriter.write(dir.resolve("c.safetensors"),
                Map.of("latent", Tensor.of(new float[16], 1, 4, 2, 2), "output", Tensor.of(new float[48], 1, 3, 4, 4)), null);
        List<CaseResult> r = run("""
                {"name": "sched", "kind": "scheduler-schedule", "model": null, "file": "s.safetensors",
                 "inputs": {"steps": 4}, "expected": {"timesteps": "steps4.timesteps"}},
                {"name": "parse", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"},
                 "expected": {"result": "/cases/0/result"}},
                {"name": "ckpt", "kind": "unet", "model": "ck/tiny.safetensors", "component": "unet", "config": "u/config.json",
                 "file": "c.safetensors", "inputs": {}, "expected": {"output": "output"}},
                {"name": "no-file", "kind": "unet", "model": "m", "file": "gone.safetensors",
                 "inputs": {"sample": {"tensor": "sample"}}, "expected": {"output": "output"}},
                {"name": "no-model", "kind": "vae-decode", "model": "no-such-vae", "file": "c.safetensors",
                 "inputs": {"latent": {"tensor": "latent"}}, "expected": {"output": "output"}},
                {"name": "bad-ref", "kind": "unet", "model": "m", "file": "c.safetensors", "inputs": {},
                 "expected": {"output": {"tensr": "output"}}},
                {"name": "stray-input", "kind": "vae-decode", "model": "m", "file": "c.safetensors",
                 "inputs": {"latent": {"tensor": "latent"}, "scale": 0.18215}, "expected": {"output": "output"}},
                {"name": "bad-tolerance", "kind": "unet", "model": "m", "file": "c.safetensors", "inputs": {},
                 "expected": {"output": "output"}, "tolerance": {"max_rel": 1}},
                {"name": "no-kind", "file": "c.safetensors", "expected": {"output": "output"}}""");
        assertEquals(9, r.size());
        assertResult(r.get(0), "sched", Status.SKIP, "kind scheduler-schedule not supported yet");
        assertResult(r.get(1), "parse", Status.SKIP, "kind prompt-parse not supported yet");
        assertResult(r.get(2), "ckpt", Status.SKIP, "single-file checkpoints are not loaded yet (checkpoint issue)");
        assertResult(r.get(3), "no-file", Status.FAIL, "gone.safetensors: referenced file does not exist");
        assertResult(r.get(4), "no-model", Status.FAIL, "no-such-vae: model folder does not exist");
        assertResult(r.get(5), "bad-ref", Status.FAIL, "expected.output: expected a reference");
        assertResult(r.get(6), "stray-input", Status.FAIL, "input \"scale\" is not one the vae-decode runner reads");
        assertResult(r.get(7), "bad-tolerance", Status.FAIL, "unknown limit \"max_rel\"");
        assertResult(r.get(8), "no-kind", Status.FAIL, "no \"kind\"");
        assertEquals("0 passed, 6 failed, 3 skipped", CaseResult.summary(r));
    }

    @Test
    void aFolderWithoutCasesJsonIsAnError() {
        assertThrows(NoSuchFileException.class, () -> GoldenRunner.open(dir, null));
    }

    @Test
    void aCasesJsonWithoutCasesIsAnError() throws Exception {
        Files.writeString(dir.resolve("cases.json"), "{\"version\": 1}");
        var e = assertThrows(GoldenFormatException.class, () -> GoldenRunner.open(dir, null));
        assertTrue(e.getMessage().contains("no \"cases\" array"), e.getMessage());
    }

    @Test
    void caseFilesReadTensorsAndJsonNumbers() throws Exception {
        Path st = dir.resolve("t.safetensors");
        SafeTensorsWriter.write(st, Map.of("x", Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)), null);
        Path js = dir.resolve("j.json");
        Files.writeString(js, "{\"a\": [[1, 2, 3], [4, 5, 6]], \"s\": 7.5, \"ragged\": [[1], [2, 3]], \"text\": [\"x\"]}");
        try (CaseFiles f = new CaseFiles()) {
            Tensor x = f.tensor(new Ref(Ref.Kind.TENSOR, "x", st));
            assertArrayEquals(new int[] {2, 2}, x.shape());
            assertEquals(4f, x.getFloat(3));
            Tensor a = f.tensor(new Ref(Ref.Kind.JSON, "/a", js));
            assertEquals(DType.F64, a.dtype());
            assertArrayEquals(new int[] {2, 3}, a.shape());
            assertEquals(6.0, a.getDouble(5));
            assertEquals(0, f.tensor(new Ref(Ref.Kind.JSON, "/s", js)).rank());
            assertThrows(GoldenFormatException.class, () -> f.tensor(new Ref(Ref.Kind.JSON, "/ragged", js)));
            assertThrows(GoldenFormatException.class, () -> f.tensor(new Ref(Ref.Kind.JSON, "/text", js)));
            var e = assertThrows(GoldenFormatException.class, () -> f.json(new Ref(Ref.Kind.JSON, "/nope", js)));
            assertTrue(e.getMessage().contains("nothing at JSON pointer /nope"), e.getMessage());
            assertThrows(NoSuchFileException.class, () -> f.tensor(new Ref(Ref.Kind.TENSOR, "x", dir.resolve("gone.safetensors"))));
        }
    }

    @Test
    void describeGivesOneLineWithoutStackTrace() {
        assertEquals("a.json: no such file", GoldenRunner.describe(new NoSuchFileException("a.json")));
        assertEquals("bad shape", GoldenRunner.describe(new IllegalArgumentException("bad shape")));
        assertEquals("NullPointerException: x is null", GoldenRunner.describe(new NullPointerException("x is null")));
        assertEquals("line one line two", GoldenRunner.describe(new IllegalStateException("line one\n  line two\n")));
    }
}
