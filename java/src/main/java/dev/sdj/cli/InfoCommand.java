package dev.sdj.cli;

import dev.sdj.core.DType;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.TensorInfo;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.io.checkpoint.Checkpoint.ComponentReport;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code sdj info FILE_OR_DIR}: what a weights file holds; for a single-file checkpoint or a
 * diffusers pipeline folder also the model it is ({@link Checkpoint#report}).
 */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = {"List each .safetensors file's tensors (name, dtype, shape, bytes), its metadata and totals.",
                "For a single-file checkpoint (original LDM naming) or a diffusers pipeline folder (model_index.json) also:"
                        + " the detected family, prediction type, each component's tensors, parameters and dtypes, and its"
                        + " missing, misshapen or unexpected keys against the config."})
public final class InfoCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE_OR_DIR", arity = "1..*", description = "one or more .safetensors files or diffusers pipeline folders")
    List<Path> files;

    @Option(names = "--summary", description = "print only the totals, not every tensor")
    boolean summary;

    @Option(names = "--config", paramLabel = "CONFIG_JSON",
            description = "a diffusers U-Net config.json to check a checkpoint's U-Net against (default: the detected family's)")
    Path config;

    @Option(names = "--vae-config", paramLabel = "CONFIG_JSON",
            description = "a diffusers VAE config.json to check a checkpoint's VAE against (default: the detected family's)")
    Path vaeConfig;

    @Option(names = "--prediction", paramLabel = "TYPE",
            description = "epsilon or v: what the U-Net predicts (SD2.x v-models cannot be told from their tensors)")
    String prediction;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        for (int i = 0; i < files.size(); i++) {
            if (i > 0) out.println();
            print(files.get(i), out);
        }
        return 0;
    }

    private void print(Path file, PrintWriter out) throws Exception {
        Checkpoint.Options options = new Checkpoint.Options(config, vaeConfig, prediction);
        if (Files.isDirectory(file)) {
            try (Checkpoint checkpoint = Checkpoint.open(file, options)) {
                out.printf("folder:   %s%n", file);
                printCheckpoint(checkpoint, out);
            }
            return;
        }
        Checkpoint.requireSafetensors(file);
        boolean ldm;
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            ldm = Checkpoint.isLdmNamed(st.names());
            Map<DType, long[]> byDtype = new EnumMap<>(DType.class); // dtype -> {tensors, elements, bytes}
            long elements = 0, bytes = 0;
            int width = st.names().stream().mapToInt(String::length).max().orElse(4);
            for (String name : st.names()) {
                TensorInfo t = st.info(name);
                if (!summary) {
                    out.printf("%-" + width + "s  %-4s  %-22s  %s%n", name, t.dtype(), Arrays.toString(t.shape()), human(t.byteSize()));
                }
                long[] agg = byDtype.computeIfAbsent(t.dtype(), d -> new long[3]);
                agg[0]++;
                agg[1] += t.numel();
                agg[2] += t.byteSize();
                elements += t.numel();
                bytes += t.byteSize();
            }
            if (!summary && !st.names().isEmpty()) out.println();
            out.printf("file:     %s%n", file);
            out.printf("tensors:  %d%n", st.names().size());
            out.printf("elements: %,d%n", elements);
            out.printf("data:     %s (%,d bytes)%n", human(bytes), bytes);
            byDtype.forEach((d, agg) -> out.printf("  %-4s  %d tensors, %,d elements, %s%n", d, agg[0], agg[1], human(agg[2])));
            if (!st.metadata().isEmpty()) {
                out.println("metadata:");
                st.metadata().forEach((k, v) -> out.printf("  %s = %s%n", k, v.length() > 200 ? v.substring(0, 200) + "…" : v));
            }
        }
        if (ldm) {
            try (Checkpoint checkpoint = Checkpoint.open(file, options)) {
                printCheckpoint(checkpoint, out);
            }
        }
    }

    // How many keys of each kind of problem are listed before "… and N more".
    private static final int SHOWN = 5;

    private static void printCheckpoint(Checkpoint checkpoint, PrintWriter out) throws Exception {
        Checkpoint.Report r = checkpoint.report();
        out.printf("checkpoint: %s (%s; detected from %s)%n", r.family(),
                checkpoint.isSingleFile() ? "single file, original LDM naming" : "diffusers folder", r.evidence());
        out.printf("prediction: %s (%s)%n", r.prediction().type(), r.prediction().source());
        out.printf("  %-15s %8s %15s  %-9s %s%n", "component", "tensors", "parameters", "dtypes", "config");
        for (ComponentReport c : r.components()) {
            if (!c.present()) {
                out.printf("  %-15s %8s %15s  %-9s %s%n", c.name(), "-", "-", "-", "not in the " + (checkpoint.isSingleFile() ? "file" : "folder")
                        + " (config: " + c.config() + ")");
                continue;
            }
            String dtypes = c.dtypes().stream().map(DType::name).collect(Collectors.joining(","));
            // A folder's files as the folder names them (unet/config.json), not as long absolute paths.
            String config = c.config(), file = "";
            if (!checkpoint.isSingleFile()) {
                Path root = checkpoint.path().toAbsolutePath().normalize();
                Path cfg = Path.of(config).toAbsolutePath().normalize();
                config = cfg.startsWith(root) ? root.relativize(cfg).toString() : config;
                file = ", weights " + root.relativize(c.file().toAbsolutePath().normalize());
            }
            out.printf("  %-15s %8d %,15d  %-9s %s%s%n", c.name(), c.tensors(), c.parameters(), dtypes, config, file);
        }
        List<String> problems = new ArrayList<>();
        for (ComponentReport c : r.components()) {
            if (!c.present()) continue;
            list(problems, c.name() + ": missing", c.missing());
            list(problems, c.name() + ": other shape", c.wrongShape());
            list(problems, c.name() + ": unexpected", c.unexpected());
            list(problems, c.name() + ": not used by the config (as in diffusers)", c.unusedByConfig());
        }
        list(problems, "unexpected (no component's)", r.unexpected());
        if (problems.isEmpty()) {
            out.println("keys:       every key the configs need is there with its shape; no unexpected keys");
        } else {
            out.println("keys:");
            problems.forEach(out::println);
        }
        if (!r.ignored().isEmpty()) {
            out.println("ignored:    " + r.ignored().entrySet().stream().map(e -> e.getValue() + " " + e.getKey())
                    .collect(Collectors.joining("; ")));
        }
    }

    private static void list(List<String> lines, String what, List<String> keys) {
        if (keys.isEmpty()) return;
        lines.add(String.format("  %s: %d", what, keys.size()));
        for (String k : keys.subList(0, Math.min(SHOWN, keys.size()))) lines.add("    " + k);
        if (keys.size() > SHOWN) lines.add("    … and " + (keys.size() - SHOWN) + " more");
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.1f %s", v, units[u]);
    }
}
