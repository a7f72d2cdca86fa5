package dev.sdj.cli;

import dev.sdj.bench.CpuOpsBench;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code sdj bench-cpu}: the CPU backend's GEMM and conv throughput beside OpenBLAS (NumPy) on this machine. */
@Command(name = "bench-cpu", mixinStandardHelpOptions = true,
        description = {"Measure the CPU backend's fp32 GEMM and convolution GFLOP/s, and NumPy/OpenBLAS's "
                + "on the same 1024^3 GEMM in the same run (python3 with numpy, when present).",
                "Takes about a minute; close other work for stable figures."})
public final class BenchCpuCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        CpuOpsBench.run(System.out);
        return 0;
    }
}
