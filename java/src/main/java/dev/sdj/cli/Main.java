package dev.sdj.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sdj} command line: one subcommand per job. */
@Command(name = "sdj", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Stable Diffusion for the JVM.",
        subcommands = {GenerateCommand.class, InfoCommand.class, BenchCommand.class, GoldenCommand.class, SchedulersCommand.class,
                BenchCpuCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, also used by tests to run commands in-process. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        // A user error (bad file, bad shape) prints one clear line, not a stack trace.
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("sdj " + cmd.getCommandName() + ": " + ex.getMessage());
            if (Boolean.getBoolean("sdj.debug")) ex.printStackTrace(cmd.getErr());
            return 1;
        });
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"sdj " + (v == null ? "(development build)" : v),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")"};
        }
    }
}
