package dev.sdj.cli;

import dev.sdj.StableDiffusion;
import dev.sdj.image.Images;
import dev.sdj.pipeline.GenerationRequest;
import dev.sdj.pipeline.GenerationResult;
import dev.sdj.pipeline.TextConditioner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sdj generate}: prompt (and optionally an init image) to PNG. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate images from a prompt with a Stable Diffusion checkpoint (SD1.x, SD2.x, SDXL): a single "
                + ".safetensors file (A1111/ComfyUI naming), a diffusers pipeline folder, or component folders "
                + "(--unet, --vae, --text-encoder).",
                "Prompts use A1111's syntax: (word:1.2), (word), [word], BREAK, any length (chunks of 75 tokens); "
                + "--syntax diffusers reads them as plain text truncated at 75 tokens, as diffusers does.",
                "The PNG carries the parameters in A1111's format (tEXt \"parameters\")."})
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "PATH", description = "checkpoint .safetensors or diffusers folder")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT")
    String prompt;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", defaultValue = "")
    String negativePrompt;

    @Option(names = "--steps", defaultValue = "20", description = "denoising steps; default ${DEFAULT-VALUE}")
    int steps;

    @Option(names = "--cfg", paramLabel = "SCALE", description = "classifier-free guidance scale; default 7.5 (SDXL 5)")
    Float cfg;

    @Option(names = "--sampler", defaultValue = "euler_a", description = "see ./sdj schedulers; default ${DEFAULT-VALUE}")
    String sampler;

    @Option(names = "--seed", defaultValue = "-1", description = "-1: random; image i of a batch uses seed + i")
    long seed;

    @Option(names = "--width", defaultValue = "0", description = "pixels, a multiple of 8; default 512 SD1, 768 SD2, 1024 SDXL")
    int width;

    @Option(names = "--height", defaultValue = "0", description = "pixels, a multiple of 8; default as --width")
    int height;

    @Option(names = "--batch", defaultValue = "1", description = "images; default ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--init-image", paramLabel = "FILE", description = "img2img: the starting image (PNG, JPEG)")
    Path initImage;

    @Option(names = "--strength", defaultValue = "0.75", description = "img2img: how much to change it, (0, 1]; default ${DEFAULT-VALUE}")
    float strength;

    @Option(names = "--clip-skip", defaultValue = "1", description = "1: last layer; 2: A1111's clip skip 2; default ${DEFAULT-VALUE}")
    int clipSkip;

    @Option(names = "--rng", defaultValue = "torch-cpu", description = "torch-cpu (diffusers/ComfyUI CPU noise) or philox (A1111's GPU noise)")
    String rng;

    @Option(names = "--syntax", defaultValue = "a1111", description = "a1111 or diffusers; default ${DEFAULT-VALUE}")
    String syntax;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu or cuda; default ${DEFAULT-VALUE}")
    String backend;

    @Option(names = "--dtype", description = "cuda: fp16 (default), bf16 or fp32")
    String dtype;

    @Option(names = "--vae-dtype", description = "cuda: the VAE's dtype (default: as --dtype; bf16 for SDXL in fp16)")
    String vaeDtype;

    @Option(names = "--unet", paramLabel = "DIR", description = "a diffusers unet/ folder (instead of the model's)")
    Path unet;

    @Option(names = "--vae", paramLabel = "DIR", description = "a diffusers vae/ folder")
    Path vae;

    @Option(names = "--text-encoder", paramLabel = "DIR", description = "a transformers text_encoder/ folder")
    Path textEncoder;

    @Option(names = "--text-encoder-2", paramLabel = "DIR", description = "SDXL: text_encoder_2/")
    Path textEncoder2;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "a tokenizer/ folder or openai's bpe .txt.gz (default: the built-in CLIP vocabulary)")
    Path tokenizer;

    @Option(names = "--prediction", description = "epsilon or v, when the checkpoint cannot tell")
    String prediction;

    @Option(names = "--out", defaultValue = "out.png", description = "PNG to write; a batch writes NAME-SEED.png; default ${DEFAULT-VALUE}")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        if (model == null && unet == null) throw new IllegalArgumentException("give --model, or --unet, --vae and --text-encoder");
        if (dtype != null || !backend.equals("cpu")) BenchCommand.openBackend(backend, dtype).close(); // a clear error before loading
        StableDiffusion.Options options = StableDiffusion.Options.defaults().withBackend(backend, dtype).withVaeDtype(vaeDtype)
                .withComponents(unet, vae, textEncoder, textEncoder2, tokenizer).withPrediction(prediction);
        long t0 = System.nanoTime();
        try (StableDiffusion sd = StableDiffusion.open(model, options)) {
            Duration load = Duration.ofNanos(System.nanoTime() - t0);
            GenerationRequest r = GenerationRequest.of(prompt).withNegativePrompt(negativePrompt).withSteps(steps)
                    .withSampler(sampler).withSeed(seed).withSize(width, height).withBatch(batch).withClipSkip(clipSkip)
                    .withRng(rng).withSyntax(syntax(syntax));
            if (cfg != null) r = r.withGuidance(cfg);
            if (initImage != null) r = r.withInitImage(Images.read(initImage), strength);
            r = sd.resolve(r);
            err.printf(Locale.ROOT, "sdj generate: %s, %dx%d, %d steps %s, CFG %s, seed %d%s%n", sd.family().label, r.width(),
                    r.height(), r.steps(), r.sampler(), r.guidance(), r.seed(), r.batch() > 1 ? ", batch " + r.batch() : "");
            GenerationResult result = sd.generate(r, (step, of, t, latents) -> progress(err, step, of), null);
            for (GenerationResult.Image img : result.images()) {
                Path file = r.batch() == 1 ? out : withSuffix(out, "-" + img.seed());
                Images.writePng(img.image(), img.parameters(), file);
                stdout.println(file);
            }
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "timing: load %.2f s", load.toMillis() / 1000.0));
            for (Map.Entry<String, Duration> e : result.timings().entrySet()) {
                sb.append(String.format(Locale.ROOT, ", %s %.2f s", e.getKey(), e.getValue().toMillis() / 1000.0));
            }
            err.println(sb);
        }
        return 0;
    }

    private static TextConditioner.Syntax syntax(String name) {
        for (TextConditioner.Syntax s : TextConditioner.Syntax.values()) {
            if (s.name().equalsIgnoreCase(name)) return s;
        }
        throw new IllegalArgumentException("--syntax " + name + ": choose a1111 or diffusers");
    }

    private static void progress(PrintWriter err, int step, int of) {
        int width = 30, done = (step + 1) * width / of;
        err.print("\r[" + "#".repeat(done) + " ".repeat(width - done) + "] " + (step + 1) + "/" + of);
        if (step + 1 == of) err.println();
        err.flush();
    }

    private static Path withSuffix(Path p, String suffix) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String n = dot < 0 ? name + suffix : name.substring(0, dot) + suffix + name.substring(dot);
        return p.resolveSibling(n);
    }
}
