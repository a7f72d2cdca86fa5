package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.cli.Main;
import dev.sdj.core.Tensor;
import dev.sdj.golden.CaseResult;
import dev.sdj.golden.GoldenCase;
import dev.sdj.golden.GoldenRunner;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.SafeTensorsWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every case of tests/golden/cases.json through the golden runner, one test each: PASS passes,
 * FAIL fails with the runner's line, SKIP is reported as skipped with its reason (never as passed).
 */
class GoldenCasesTest {

    // Kinds the engine fully runs: their cases must PASS, so that a regression cannot hide as a
    // skip. That includes the single-file checkpoint cases (checkpoint-ldm/*).
    private static final Set<String> MUST_PASS_KINDS = Set.of("unet", "vae-decode", "vae-encode", "scheduler-schedule",
            "scheduler-trajectory", "img2img-start", "e2e", "rng", "text-encoder", "prompt-parse", "tokenizer",
            "pipeline");

    private static boolean mustPass(GoldenCase c) {
        return MUST_PASS_KINDS.contains(c.kind());
    }

    private static Backend backend;
    private static GoldenRunner runner;
    // Each case runs once per class, whichever test asks first (the U-Net cases take a few seconds together).
    private static final Map<String, CaseResult> results = new HashMap<>();

    @BeforeAll
    static void open() throws Exception {
        backend = new CpuBackend();
        runner = GoldenRunner.open(Golden.root(), backend);
    }

    @AfterAll
    static void close() {
        if (runner != null) runner.close();
        if (backend != null) backend.close();
    }

    private static CaseResult result(GoldenCase c) {
        return results.computeIfAbsent(c.name(), n -> runner.run(c));
    }

    @TestFactory
    Stream<DynamicTest> everyCase() {
        return runner.cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            CaseResult r = result(c);
            if (r.status() != CaseResult.Status.SKIP) System.out.println(r.line()); // skips show with their reason anyway
            switch (r.status()) {
                case PASS -> { }
                case FAIL -> fail(r.line());
                case SKIP -> Assumptions.abort(r.detail());
            }
        }));
    }

    @Test
    void everyCaseOfAFullyRunKindPasses() {
        List<GoldenCase> cases = runner.cases().stream().filter(GoldenCasesTest::mustPass).toList();
        // 9 U-Net/VAE cases, 4 of them again from the single-file checkpoint; 51 scheduler cases: the
        // training schedule, 8 folders × (4 schedules + 2 trajectories), 2 img2img starts
        assertTrue(cases.size() >= 199, "cases that must pass in cases.json: " + cases.size());
        assertEquals(4, cases.stream().filter(GoldenCase::isSingleFile).count());
        for (GoldenCase c : cases) {
            CaseResult r = result(c);
            assertEquals(CaseResult.Status.PASS, r.status(), r.line());
        }
    }

    @Test
    void countsLineCoversEveryCaseAndNoneFails() throws Exception {
        List<CaseResult> all = runner.cases().stream().map(GoldenCasesTest::result).toList();
        int numCases = new ObjectMapper().readTree(Golden.root().resolve("cases.json").toFile()).get("num_cases").asInt();
        assertEquals(numCases, all.size());
        String line = CaseResult.summary(all);
        System.out.println(line);
        assertTrue(line.matches("\\d+ passed, 0 failed, \\d+ skipped"), line);
        long passed = CaseResult.count(all, CaseResult.Status.PASS), skipped = CaseResult.count(all, CaseResult.Status.SKIP);
        assertEquals(numCases, passed + skipped, line);
        assertTrue(passed >= 7, line);
    }

    // ---- the runner on a folder of its own, through `sdj golden` ----

    /**
     * A hand-made cases.json beside a copy of one golden case: a right case, deliberately wrong
     * references, a per-output limit, an unknown kind and missing files.
     */
    @Test
    void goldenCommandOnAHandMadeFolder(@TempDir Path dir) throws Exception {
        Path src = Golden.root().resolve("unet-sd15-tiny");
        Path model = Files.createDirectories(dir.resolve("sd15"));
        Files.copy(src.resolve("config.json"), model.resolve("config.json"));
        Files.copy(src.resolve("diffusion_pytorch_model.safetensors"), model.resolve("diffusion_pytorch_model.safetensors"));
        Files.copy(src.resolve("case-t1.safetensors"), dir.resolve("case.safetensors"));
        // The same case with one output element moved by 1e-3: over 1e-4, within 2e-3.
        Map<String, Tensor> moved = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(src.resolve("case-t1.safetensors"))) {
            for (String k : List.of("sample", "timestep", "encoder_hidden_states")) moved.put(k, f.tensor(k));
            Tensor out = f.tensor("output");
            float[] v = out.toFloatArray();
            v[5] += 1e-3f;
            moved.put("output", Tensor.of(v, out.shape()));
            SafeTensorsWriter.write(dir.resolve("moved.safetensors"), moved, null);
        }
        String inputs = """
                "inputs": {"sample": {"tensor": "sample"}, "timestep": {"tensor": "timestep"},
                           "encoder_hidden_states": {"tensor": "encoder_hidden_states"}}""";
        String cases = """
                {"version": 1, "cases": [
                 {"name": "right", "kind": "unet", "model": "sd15", "file": "case.safetensors", %1$s,
                  "expected": {"output": "output"}, "tolerance": {"max_abs": 1e-4}},
                 {"name": "wrong-ref", "kind": "unet", "model": "sd15", "file": "case.safetensors", %1$s,
                  "expected": {"output": {"tensor": "sample"}}, "tolerance": {"max_abs": 1e-4}},
                 {"name": "moved", "kind": "unet", "model": "sd15", "file": "moved.safetensors", %1$s,
                  "expected": {"output": "output"}, "tolerance": {"max_abs": 1e-4}},
                 {"name": "moved-per-output", "kind": "unet", "model": "sd15", "file": "moved.safetensors", %1$s,
                  "expected": {"output": "output"}, "tolerance": {"max_abs": 1e-4, "per_output": {"output": {"max_abs": 2e-3}}}},
                 {"name": "unknown-kind", "kind": "frobnicate", "model": null, "file": "case.safetensors",
                  "inputs": {}, "expected": {"output": "output"}},
                 {"name": "missing-file", "kind": "unet", "model": "sd15", "file": "gone.safetensors", %1$s,
                  "expected": {"output": "output"}, "tolerance": {"max_abs": 1e-4}},
                 {"name": "missing-model", "kind": "unet", "model": "no-such-model", "file": "case.safetensors", %1$s,
                  "expected": {"output": "output"}, "tolerance": {"max_abs": 1e-4}}
                ]}""".formatted(inputs);
        Files.writeString(dir.resolve("cases.json"), cases);

        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute("golden", dir.toString());
        String text = out.toString();
        System.out.println(text);
        assertEquals(1, code, "a failed case makes the exit status non-zero\n" + text + err);

        Map<String, String> lines = new LinkedHashMap<>();
        List<String> all = new ArrayList<>(text.lines().toList());
        for (String l : all.subList(0, all.size() - 1)) lines.put(l.split("\\s+")[0], l);
        assertEquals(7, lines.size(), text);
        assertStatus(lines, "right", "PASS", "output max_abs");
        assertStatus(lines, "wrong-ref", "FAIL", "output max_abs");
        assertStatus(lines, "moved", "FAIL", "(limit 1e-04)");
        assertStatus(lines, "moved-per-output", "PASS", "(limit 2e-03)");
        assertStatus(lines, "unknown-kind", "SKIP", "kind frobnicate not supported yet");
        assertStatus(lines, "missing-file", "FAIL", "gone.safetensors: referenced file does not exist");
        assertStatus(lines, "missing-model", "FAIL", "no-such-model: model folder does not exist");
        assertEquals("2 passed, 4 failed, 1 skipped", all.get(all.size() - 1));
    }

    private static void assertStatus(Map<String, String> lines, String name, String status, String detail) {
        String line = lines.get(name);
        assertTrue(line != null && line.matches(java.util.regex.Pattern.quote(name) + "\\s+" + status + "  .*"), name + ": " + line);
        assertTrue(line.contains(detail), name + ": " + line);
    }
}
