package dev.sdj.cli;

import dev.sdj.backend.Backend;
import dev.sdj.backend.Backends;
import dev.sdj.bench.UNetBench;
import dev.sdj.cuda.Cuda;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sdj bench}: time U-Net denoising steps (the main job) and report ms/step and GFLOP/s. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Time the U-Net denoising step: forwards of the classifier-free-guidance batch (2 x batch) on random "
                + "latents, timesteps and text embeddings, after warm-up forwards. Prints ms per step (median, min, max), "
                + "steps/s, GFLOP per step and GFLOP/s, the build time and memory; a line per forward goes to stderr.",
                "Without weights the built-in architecture gets random weights (sd15: 3.4 GB off-heap, sdxl: 10 GB); the CPU "
                + "backend adds its packed copy of them during the first forward (sd15: 5 GB, native memory).",
                "The default (sd15, 256x256, batch 1, 3 steps) takes about 35 s on a 2-core CPU.",
                "On CUDA each step runs in a backend scope and ends with the download of its output (the wall clock then "
                + "covers the GPU work); the device memory in use is reported too. The usual GPU sizes: "
                + "--backend cuda --dtype fp16 --model sd15 --height 512 --width 512 --steps 20 --warmup 3, and "
                + "--model sdxl --height 1024 --width 1024 (CFG batch 2 with the default --batch 1).",
                "--info prints the backend (on CUDA: runtime, driver, devices, cuBLAS, cuDNN, the library files loaded "
                + "and libsdj_kernels.so) and exits."})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "NAME|DIR", defaultValue = "sd15",
            description = "sd15, sd21, sdxl, sdxl-refiner (built-in config, random weights) or a diffusers U-Net folder "
                    + "(config.json + diffusion_pytorch_model.safetensors); default ${DEFAULT-VALUE}")
    String model;

    @Option(names = "--height", defaultValue = "256", description = "image height in pixels (latent = height / 8); default ${DEFAULT-VALUE}")
    int height;

    @Option(names = "--width", defaultValue = "256", description = "image width in pixels (latent = width / 8); default ${DEFAULT-VALUE}")
    int width;

    @Option(names = "--batch", defaultValue = "1", description = "images per step; the U-Net runs twice as many (CFG); default ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--steps", defaultValue = "3", description = "timed forwards; default ${DEFAULT-VALUE}")
    int steps;

    @Option(names = "--warmup", defaultValue = "1", description = "untimed forwards first (JIT, caches); default ${DEFAULT-VALUE}")
    int warmup;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu or cuda (needs a CUDA device); default ${DEFAULT-VALUE}")
    String backend;

    @Option(names = "--dtype", paramLabel = "DTYPE",
            description = "compute dtype: fp16, bf16 or fp32 (default: fp32 on cpu, its only one; fp16 on cuda)")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the random weights and inputs; default ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--loop", paramLabel = "STEPS", defaultValue = "0",
            description = "also time a whole sampling loop of STEPS Euler a steps with CFG, latents on the device (CUDA: "
                    + "one step captured as a CUDA graph and replayed), twice: first run and warm run; default off")
    int loop;

    @Option(names = "--profile", description = "also time every backend op: ms per step by op kind and the slowest ops by shape")
    boolean profile;

    @Option(names = "--info", description = "print what the backend is (CUDA: versions, devices, library files) and exit; "
            + "exit status 1 when something is missing")
    boolean info;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (info) return info(out);
        UNetBench.Options o = new UNetBench.Options(model, height, width, batch, steps, warmup, backend, dtype, seed, profile, loop);
        try (Backend b = openBackend(backend, dtype)) {
            UNetBench.run(o, b, out, err);
        }
        return 0;
    }

    private int info(PrintWriter out) {
        boolean cuda = "cuda".equals(backend.toLowerCase(Locale.ROOT));
        boolean ok = !cuda || UNetBench.printCudaInfo(out);
        try (Backend b = openBackend(backend, dtype)) {
            out.println("backend:      " + UNetBench.describe(b));
        } catch (RuntimeException | LinkageError e) {
            out.println("backend:      unavailable: " + e.getMessage());
            ok = false;
        }
        out.flush();
        return ok ? 0 : 1;
    }

    /**
     * {@link Backends#create} with a clear error first where CUDA has no device (the message of
     * {@link Cuda#noDeviceReason()}) or no runtime library; used by {@code golden} too.
     */
    static Backend openBackend(String name, String dtype) {
        if (dtype != null) Backends.parseDtype(dtype); // an unknown dtype is the error to report, device or not
        if (name != null && name.toLowerCase(Locale.ROOT).equals("cuda")) requireCudaDevice();
        return Backends.create(name, dtype);
    }

    private static void requireCudaDevice() {
        int devices;
        try {
            devices = Cuda.deviceCount();
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalStateException("--backend cuda: cannot load the CUDA runtime: " + e.getMessage(), e);
        }
        if (devices == 0) throw new IllegalStateException("--backend cuda: " + Cuda.noDeviceReason().getMessage());
    }
}
