package dev.sdj.cli;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.golden.CaseResult;
import dev.sdj.golden.GoldenCase;
import dev.sdj.golden.GoldenRunner;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sdj golden DIR}: the engine against a folder of reference cases (cases.json). */
@Command(name = "golden", mixinStandardHelpOptions = true,
        description = {"Run the reference cases of a golden folder (its cases.json, format in tests/golden/README.md) "
                + "on the CPU backend and compare every output with the reference.",
                "Prints one line per case (NAME  PASS|FAIL|SKIP  errors or reason), then the counts. "
                + "Exit status 1 when a case fails or none is selected."})
public final class GoldenCommand implements Callable<Integer> {

    @Parameters(paramLabel = "DIR", description = "folder with cases.json, e.g. tests/golden")
    Path dir;

    @Option(names = "--filter", paramLabel = "SUBSTRING", description = "only cases whose name contains SUBSTRING")
    String filter;

    @Option(names = "--kind", paramLabel = "KIND", description = "only cases of this kind (unet, vae-decode, ...)")
    String kind;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Predicate<GoldenCase> which = c -> (filter == null || c.name().contains(filter))
                && (kind == null || kind.equals(c.kind()));
        try (Backend backend = new CpuBackend(); GoldenRunner runner = GoldenRunner.open(dir, backend)) {
            List<GoldenCase> selected = runner.cases().stream().filter(which).toList();
            if (selected.isEmpty()) {
                // A mistyped filter must not look like a clean run.
                spec.commandLine().getErr().println("sdj golden: no case of " + dir.resolve("cases.json") + " matches"
                        + (filter == null ? "" : " --filter " + filter) + (kind == null ? "" : " --kind " + kind));
                return 1;
            }
            int width = selected.stream().mapToInt(c -> c.name().length()).max().orElse(4);
            List<CaseResult> results = runner.runAll(which, r -> {
                out.println(r.line(width));
                out.flush(); // a long run shows its progress
            });
            out.println(CaseResult.summary(results));
            return CaseResult.count(results, CaseResult.Status.FAIL) > 0 ? 1 : 0;
        }
    }
}
