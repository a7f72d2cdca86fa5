package dev.sdj.cli;

import dev.sdj.sched.Schedulers;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code sdj schedulers}: the sampler names sdj accepts, as A1111 and ComfyUI users know them. */
@Command(name = "schedulers", mixinStandardHelpOptions = true,
        description = "List the schedulers (samplers) by the names --scheduler accepts, with their diffusers class.")
public final class SchedulersCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        for (Schedulers.Entry e : Schedulers.all()) {
            String options = e.overrides().isEmpty() ? "" : "  " + e.overrides();
            out.printf("%-20s %-34s %s%s%n", e.name(), e.className(), e.description(), options);
        }
        return 0;
    }
}
