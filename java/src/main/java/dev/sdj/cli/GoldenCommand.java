package dev.sdj.cli;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cuda.CudaBackend;
import dev.sdj.core.DType;
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
                + "on a backend (default: the CPU) and compare every output with the reference.",
                "Prints one line per case (NAME  PASS|FAIL|SKIP  errors or reason), then the counts. "
                + "Exit status 1 when a case fails or none is selected.",
                "Tolerances: fp32 (the CPU backend, or --dtype fp32) keeps every case's own limits. With --dtype fp16 or bf16 "
                + "the cases the backend computes (unet, vae-decode, vae-encode, e2e with its per-step records) are judged by "
                + "reduced-precision limits: fp16 rel_l2 <= 2e-2 and max_abs <= 3e-2 x max|reference|, bf16 rel_l2 <= 0.15 and "
                + "max_abs <= 0.2 x max|reference| (never below the case's own). That is about 3x the error of the CPU backend "
                + "with every weight and op output rounded to fp16 / bf16 (worst: e2e's CFG-guided noise, rel_l2 6.9e-3 / 5.5e-2; "
                + "single forwards 3e-3 / 2.5e-2). Exact limits (timesteps) stay exact; scheduler and rng cases do not use "
                + "the backend and keep theirs."})
public final class GoldenCommand implements Callable<Integer> {

    @Parameters(paramLabel = "DIR", description = "folder with cases.json, e.g. tests/golden")
    Path dir;

    @Option(names = "--filter", paramLabel = "SUBSTRING", description = "only cases whose name contains SUBSTRING")
    String filter;

    @Option(names = "--kind", paramLabel = "KIND", description = "only cases of this kind (unet, vae-decode, ...)")
    String kind;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "cpu",
            description = "cpu or cuda (needs a CUDA device); default ${DEFAULT-VALUE}")
    String backend;

    @Option(names = "--dtype", paramLabel = "DTYPE",
            description = "the backend's compute dtype: fp16, bf16 or fp32 (default: fp32 on cpu, which has no other, "
                    + "fp16 on cuda); fp16 and bf16 widen the model cases' limits (above)")
    String dtype;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Predicate<GoldenCase> which = c -> (filter == null || c.name().contains(filter))
                && (kind == null || kind.equals(c.kind()));
        try (Backend b = BenchCommand.openBackend(backend, dtype);
             GoldenRunner runner = GoldenRunner.open(dir, b, computeDtype(b))) {
            List<GoldenCase> selected = runner.cases().stream().filter(which).toList();
            if (selected.isEmpty()) {
                // A mistyped filter must not look like a clean run.
                spec.commandLine().getErr().println("sdj golden: no case of " + dir.resolve("cases.json") + " matches"
                        + (filter == null ? "" : " --filter " + filter) + (kind == null ? "" : " --kind " + kind));
                return 1;
            }
            // The CPU run prints what it always did; another backend says what it is and which limits apply.
            if (b instanceof CudaBackend cuda) {
                out.println("backend: " + cuda.describe());
                out.println("limits:  " + (runner.compute() == DType.F32 ? "every case's own (fp32)"
                        : runner.compute() + " limits for the " + String.join(", ", GoldenRunner.BACKEND_KINDS.stream().sorted().toList())
                        + " cases (see --help), the cases' own for the others"));
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

    /** The dtype the backend computes in: the CUDA backend's own, fp32 for every other. */
    static DType computeDtype(Backend b) {
        return b instanceof CudaBackend cuda ? cuda.dtype() : DType.F32;
    }
}
