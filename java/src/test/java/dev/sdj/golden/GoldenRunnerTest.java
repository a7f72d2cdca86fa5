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
                {"name": "sched", "kind": "inpaint", "model": null, "file": "s.safetensors",
                 "inputs": {"steps": 4}, "expected": {"timesteps": "steps4.timesteps"}},
                {"name": "parse", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"},
                 "expected": {"result": "/cases/0/result"}},
                {"name": "ckpt", "kind": "vae-decode", "model": "ck/tiny.safetensors", "component": "vae", "config": "u/config.json",
                 "file": "c.safetensors", "inputs": {"latent": {"tensor": "latent"}}, "expected": {"output": "output"}},
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
        assertResult(r.get(0), "sched", Status.SKIP, "kind inpaint not supported yet");
        assertResult(r.get(1), "parse", Status.PASS, "result 1 fragment, texts exact");
        assertResult(r.get(2), "ckpt", Status.FAIL, "tiny.safetensors: checkpoint file does not exist");
        assertResult(r.get(3), "no-file", Status.FAIL, "gone.safetensors: referenced file does not exist");
        assertResult(r.get(4), "no-model", Status.FAIL, "no-such-vae: model folder does not exist");
        assertResult(r.get(5), "bad-ref", Status.FAIL, "expected.output: expected a reference");
        assertResult(r.get(6), "stray-input", Status.FAIL, "input \"scale\" is not one the vae-decode runner reads");
        assertResult(r.get(7), "bad-tolerance", Status.FAIL, "unknown limit \"max_rel\"");
        assertResult(r.get(8), "no-kind", Status.FAIL, "no \"kind\"");
        assertEquals("1 passed, 7 failed, 1 skipped", CaseResult.summary(r));
    }

    /**
     * The scheduler kinds need no model: a DDIM schedule right and wrong, a class sdj does not have,
     * a stray input, and one-step loops from zero latents (all zero whatever the schedule) whose
     * per-step records and injected noise are checked.
     */
    @Test
    void schedulerKindsRunWithoutAModel() throws Exception {
        Files.writeString(dir.resolve("ddim.json"), """
                {"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                 "steps_offset": 1, "set_alpha_to_one": false, "clip_sample": false}""");
        Files.writeString(dir.resolve("euler-a.json"), """
                {"_class_name": "EulerAncestralDiscreteScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                 "beta_end": 0.012}""");
        float[] wrong = new float[16];
        wrong[3] = 1e-3f;
        SafeTensorsWriter.write(dir.resolve("s.safetensors"), Map.of(
                "steps4.timesteps", Tensor.of(new float[] {751, 501, 251, 1}, 4),
                "off.timesteps", Tensor.of(new float[] {750, 501, 251, 1}, 4),
                "one", Tensor.of(new float[] {1f}),
                "zeros", Tensor.of(new float[16], 1, 4, 2, 2),
                "wrong", Tensor.of(wrong, 1, 4, 2, 2),
                "noise", Tensor.of(new float[] {1, -1, 2, -2, 1, -1, 2, -2, 1, -1, 2, -2, 1, -1, 2, -2}, 1, 4, 2, 2)), null);
        String ddim = "\"scheduler_class\": \"DDIMScheduler\", \"scheduler_config\": \"ddim.json\", \"file\": \"s.safetensors\"";
        List<CaseResult> r = run("""
                {"name": "schedule", "kind": "scheduler-schedule", %1$s, "inputs": {"steps": 4},
                 "expected": {"timesteps": "steps4.timesteps", "init_noise_sigma": "one"}, "tolerance": {"max_abs": 0}},
                {"name": "schedule-off", "kind": "scheduler-schedule", %1$s, "inputs": {"steps": 4},
                 "expected": {"timesteps": "off.timesteps"}, "tolerance": {"max_abs": 0}},
                {"name": "no-such-class", "kind": "scheduler-schedule", "scheduler_class": "FooScheduler",
                 "scheduler_config": "ddim.json", "file": "s.safetensors", "inputs": {"steps": 4},
                 "expected": {"timesteps": "steps4.timesteps"}},
                {"name": "stray", "kind": "scheduler-schedule", %1$s, "inputs": {"steps": 4, "eta": 0.5},
                 "expected": {"timesteps": "steps4.timesteps"}},
                {"name": "loop", "kind": "scheduler-trajectory", %1$s, "inputs": {"x_T": {"tensor": "zeros"}, "steps": 1},
                 "expected": {"final": "zeros"}, "tolerance": {"max_abs": 1e-4}, "noise_keys": [null],
                 "per_step": [{"prev_sample": "zeros", "model_output": "zeros"}], "per_step_tolerance": {"max_abs": 1e-4}},
                {"name": "loop-wrong", "kind": "scheduler-trajectory", %1$s, "inputs": {"x_T": {"tensor": "zeros"}, "steps": 1},
                 "expected": {"final": "zeros"}, "tolerance": {"max_abs": 1e-4}, "noise_keys": [null],
                 "per_step": [{"prev_sample": "wrong", "latents": "zeros"}], "per_step_tolerance": {"max_abs": 1e-4}},
                {"name": "noise-not-drawn", "kind": "scheduler-trajectory", %1$s, "inputs": {"x_T": {"tensor": "zeros"}, "steps": 1},
                 "expected": {"final": "zeros"}, "noise_keys": ["noise"]},
                {"name": "ancestral", "kind": "scheduler-trajectory", "scheduler_class": "EulerAncestralDiscreteScheduler",
                 "scheduler_config": "euler-a.json", "file": "s.safetensors", "inputs": {"x_T": {"tensor": "zeros"}, "steps": 1},
                 "expected": {"final": "zeros"}, "noise_keys": ["noise"], "per_step": [{"noise": "noise", "prev_sample": "zeros"}]}
                """.formatted(ddim));
        assertEquals(8, r.size());
        assertResult(r.get(0), "schedule", Status.PASS, "timesteps max_abs 0");
        assertResult(r.get(1), "schedule-off", Status.FAIL, "timesteps max_abs 1");
        assertResult(r.get(2), "no-such-class", Status.FAIL, "scheduler class FooScheduler is not implemented by sdj");
        assertResult(r.get(3), "stray", Status.FAIL, "input \"eta\" is not one the scheduler-schedule runner reads");
        assertResult(r.get(4), "loop", Status.PASS, "per_step 2 tensors");
        assertResult(r.get(5), "loop-wrong", Status.FAIL, "step_000.prev_sample max_abs 1e-03");
        assertTrue(r.get(5).detail().contains("step_000.latents not produced"), r.get(5).line());
        assertResult(r.get(6), "noise-not-drawn", Status.FAIL, "step 0: the reference drew noise inside step() (noise_keys), the scheduler drew none");
        assertResult(r.get(7), "ancestral", Status.PASS, "per_step 2 tensors");
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
