package dev.sdj.bench;

import dev.sdj.backend.cpu.Conv2d;
import dev.sdj.backend.cpu.Gemm;
import dev.sdj.backend.cpu.Parallel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;

/**
 * CPU GEMM and convolution throughput, with NumPy/OpenBLAS on the same machine as the yardstick.
 * Each figure is the best of several timed runs after a warm-up (the best run is the one least
 * disturbed by other load; NumPy is measured the same way). About 30–40 s in all.
 */
public final class CpuOpsBench {
    private CpuOpsBench() {}

    public static void main(String[] args) {
        run(System.out);
    }

    /** Prints the report to {@code out} and returns the headline line (ours vs OpenBLAS at 1024³). */
    public static String run(PrintStream out) {
        out.printf(Locale.ROOT, "machine: %s, %d cores, %d GEMM threads, %s, vector species %s (%d floats), Java %s%n",
                cpuModel(), Runtime.getRuntime().availableProcessors(), Parallel.threads(), System.getProperty("os.arch"),
                FloatVector.SPECIES_PREFERRED, FloatVector.SPECIES_PREFERRED.length(), System.getProperty("java.version"));

        double ours = gemm(out, "gemm 1024x1024x1024", 1024, 1024, 1024, false, false, 2.0);
        gemm(out, "gemm 4096x320x320", 4096, 320, 320, false, false, 1.0);
        gemm(out, "gemm 4096x1280x320 transB", 4096, 1280, 320, false, true, 1.0);
        gemm(out, "gemm 4096x320x1280 transB", 4096, 320, 1280, false, true, 1.0);
        gemm(out, "gemm 4096x77x40 transB", 4096, 77, 40, false, true, 0.5);
        gemmSerial(out, "gemm serial 64x77x40 transB (x8 heads)", 64, 77, 40, 0.5);
        conv(out, "conv3x3 N=2 64x64 320->320", 2, 64, 64, 320, 320, 3, 1, 1, 2.0);
        conv(out, "conv3x3 N=2 32x32 640->640", 2, 32, 32, 640, 640, 3, 1, 1, 2.0);
        conv(out, "conv3x3 N=2 64x64 4->320", 2, 64, 64, 4, 320, 3, 1, 1, 0.5);
        conv(out, "conv3x3/s2 N=2 64x64 320->320", 2, 64, 64, 320, 320, 3, 2, 1, 1.0);
        conv(out, "conv1x1 N=2 64x64 320->320", 2, 64, 64, 320, 320, 1, 1, 0, 0.5);

        double blas = numpyGemm(out, 1024);
        String headline;
        if (Double.isNaN(blas)) {
            headline = String.format(Locale.ROOT, "ours %.1f GFLOP/s at 1024^3 (no NumPy to compare with)", ours);
        } else {
            headline = String.format(Locale.ROOT, "ours %.1f GFLOP/s vs NumPy/OpenBLAS %.1f GFLOP/s at 1024^3: ratio %.2f", ours, blas, ours / blas);
        }
        out.println(headline);
        return headline;
    }

    private static float[] random(int len, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[len];
        for (int i = 0; i < len; i++) v[i] = (float) (r.nextDouble() - 0.5);
        return v;
    }

    /** Best-of timing: warms up for a third of the budget, then times runs for the rest. */
    private static double bestSeconds(Runnable op, double budgetSeconds) {
        long warmEnd = System.nanoTime() + (long) (budgetSeconds / 3 * 1e9);
        int warm = 0;
        do {
            op.run();
            warm++;
        } while (System.nanoTime() < warmEnd || warm < 3);
        long end = System.nanoTime() + (long) (budgetSeconds * 2 / 3 * 1e9);
        double best = Double.MAX_VALUE;
        int runs = 0;
        do {
            long t0 = System.nanoTime();
            op.run();
            best = Math.min(best, (System.nanoTime() - t0) * 1e-9);
            runs++;
        } while (System.nanoTime() < end || runs < 3);
        return best;
    }

    private static double gemm(PrintStream out, String name, int m, int n, int k, boolean ta, boolean tb, double budget) {
        MemorySegment a = MemorySegment.ofArray(random(m * k, 1)), b = MemorySegment.ofArray(random(k * n, 2));
        MemorySegment c = MemorySegment.ofArray(new float[m * n]);
        int lda = ta ? m : k, ldb = tb ? k : n;
        double s = bestSeconds(() -> Gemm.sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n), budget);
        double gf = 2.0 * m * n * k / s * 1e-9;
        out.printf(Locale.ROOT, "%-40s %8.3f ms  %7.1f GFLOP/s%n", name, s * 1e3, gf);
        return gf;
    }

    /** Eight independent serial GEMMs spread over the pool, as attention runs its heads. */
    private static void gemmSerial(PrintStream out, String name, int m, int n, int k, double budget) {
        int heads = 8;
        float[] a = random(heads * m * k, 3), b = random(heads * n * k, 4);
        MemorySegment as = MemorySegment.ofArray(a), bs = MemorySegment.ofArray(b), cs = MemorySegment.ofArray(new float[heads * m * n]);
        double s = bestSeconds(() -> Parallel.forEach(heads, h ->
                Gemm.sgemmSerial(false, true, m, n, k, 1f, as, (long) h * m * k, k, bs, (long) h * n * k, k, 0f, cs, (long) h * m * n, n)), budget);
        double gf = 2.0 * heads * m * n * k / s * 1e-9;
        out.printf(Locale.ROOT, "%-40s %8.3f ms  %7.1f GFLOP/s%n", name, s * 1e3, gf);
    }

    private static void conv(PrintStream out, String name, int n, int h, int w, int cin, int cout, int ks, int stride, int pad, double budget) {
        MemorySegment x = MemorySegment.ofArray(random(n * h * w * cin, 5));
        MemorySegment wt = MemorySegment.ofArray(random(cout * ks * ks * cin, 6));
        MemorySegment bias = MemorySegment.ofArray(random(cout, 7));
        int ho = Conv2d.outSize(h, ks, stride, pad), wo = Conv2d.outSize(w, ks, stride, pad);
        MemorySegment y = MemorySegment.ofArray(new float[n * ho * wo * cout]);
        double s = bestSeconds(() -> Conv2d.forward(x, n, h, w, cin, wt, cout, ks, ks, bias, stride, stride, pad, pad, y), budget);
        double gf = 2.0 * n * ho * wo * cout * ks * ks * cin / s * 1e-9;
        out.printf(Locale.ROOT, "%-40s %8.3f ms  %7.1f GFLOP/s%n", name, s * 1e3, gf);
    }

    /** NumPy's float32 matmul (OpenBLAS) on the same size, best of 20 after warm-up; NaN when unavailable. */
    private static double numpyGemm(PrintStream out, int size) {
        String script = String.join("\n",
                "import time, numpy as np",
                "n = " + size,
                "rng = np.random.default_rng(0)",
                "a = rng.random((n, n), dtype=np.float32); b = rng.random((n, n), dtype=np.float32)",
                "for _ in range(5): a @ b",
                "best = 1e9",
                "for _ in range(20):",
                "    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)",
                "print(2.0 * n ** 3 / best / 1e9)");
        try {
            Process p = new ProcessBuilder("python3", "-c", script).redirectErrorStream(true).start();
            p.getOutputStream().close();
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            try (InputStream in = p.getInputStream()) {
                in.transferTo(buf);
            }
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                out.println("numpy: python3 did not finish; comparing with nothing");
                return Double.NaN;
            }
            String text = buf.toString(StandardCharsets.UTF_8).trim();
            String[] lines = text.split("\n");
            if (p.exitValue() != 0) {
                out.println("numpy: python3 with numpy is not available (" + lines[lines.length - 1] + "); printing only ours");
                return Double.NaN;
            }
            double gf = Double.parseDouble(lines[lines.length - 1].trim());
            out.printf(Locale.ROOT, "%-40s %8.3f ms  %7.1f GFLOP/s%n", "numpy/OpenBLAS gemm " + size + "^3",
                    2.0 * size * size * size / gf * 1e-6, gf);
            return gf;
        } catch (IOException | NumberFormatException e) {
            out.println("numpy: python3 with numpy is not available (" + e.getMessage() + "); printing only ours");
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst().orElse("unknown CPU");
        } catch (IOException | RuntimeException e) {
            return "unknown CPU";
        }
    }
}
