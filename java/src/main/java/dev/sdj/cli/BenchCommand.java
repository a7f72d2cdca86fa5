package dev.sdj.cli;

import dev.sdj.bench.UNetBench;
import java.io.PrintWriter;
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
                "The default (sd15, 256x256, batch 1, 3 steps) takes about 35 s on a 2-core CPU."})
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

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu or cuda; default ${DEFAULT-VALUE}")
    String backend;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the random weights and inputs; default ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--profile", description = "also time every backend op: ms per step by op kind and the slowest ops by shape")
    boolean profile;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        UNetBench.run(new UNetBench.Options(model, height, width, batch, steps, warmup, backend, seed, profile), out, err);
        return 0;
    }
}
