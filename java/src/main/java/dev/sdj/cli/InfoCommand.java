package dev.sdj.cli;

import dev.sdj.core.DType;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.TensorInfo;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sdj info FILE.safetensors}: what a weights file holds. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "List each .safetensors file's tensors (name, dtype, shape, bytes), its metadata and totals.")
public final class InfoCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "one or more .safetensors files")
    List<Path> files;

    @Option(names = "--summary", description = "print only the totals, not every tensor")
    boolean summary;

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
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
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
