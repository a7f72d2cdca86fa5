package dev.sdj;

import dev.sdj.backend.Backend;
import dev.sdj.backend.Backends;
import dev.sdj.backend.cuda.CudaBackend;
import dev.sdj.core.DType;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.io.checkpoint.Checkpoint.Family;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.model.clip.CLIPTextModel;
import dev.sdj.pipeline.GenerationRequest;
import dev.sdj.pipeline.GenerationResult;
import dev.sdj.pipeline.StableDiffusionPipeline;
import dev.sdj.pipeline.StepListener;
import dev.sdj.pipeline.TextConditioner;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.text.ClipTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The embedding API: open a model once, generate many images, close. Thread-safe: requests from several
 * threads run one after another on the model's backend (a GPU runs one U-Net at a time anyway; the CPU backend
 * already uses every core for one). No checked exceptions: I/O problems are {@link UncheckedIOException}s,
 * bad checkpoints {@code CheckpointException}s and {@code WeightsException}s naming the file and tensor.
 *
 * <pre>{@code
 * try (StableDiffusion sd = StableDiffusion.open(Path.of("v1-5-pruned-emaonly.safetensors"))) {
 *     GenerationResult r = sd.generate(GenerationRequest.of("a photo of a cat").withSeed(42).withSteps(20));
 *     Images.writePng(r.images().get(0).image(), r.images().get(0).parameters(), Path.of("cat.png"));
 * }
 * }</pre>
 */
public final class StableDiffusion implements AutoCloseable {

    /**
     * How to open a model. {@code backend} "cpu" or "cuda"; {@code dtype} the CUDA compute dtype (fp16 default);
     * {@code vaeDtype} the VAE's (default: the backend's, but bf16 for SDXL in fp16, whose VAE overflows);
     * {@code unet}, {@code vae}, {@code textEncoder}, {@code textEncoder2}, {@code tokenizer}: diffusers component
     * folders (tokenizer: a folder or openai's bpe .txt.gz) that replace the model's own, or build a model from parts
     * when there is no model file; {@code prediction} "epsilon" or "v" when the checkpoint cannot tell.
     */
    public record Options(String backend, String dtype, String vaeDtype, Path unet, Path vae, Path textEncoder,
                          Path textEncoder2, Path tokenizer, String prediction) {
        public static Options defaults() {
            return new Options("cpu", null, null, null, null, null, null, null, null);
        }

        public Options withBackend(String b, String d) {
            return new Options(b, d, vaeDtype, unet, vae, textEncoder, textEncoder2, tokenizer, prediction);
        }

        public Options withVaeDtype(String d) {
            return new Options(backend, dtype, d, unet, vae, textEncoder, textEncoder2, tokenizer, prediction);
        }

        public Options withComponents(Path unet, Path vae, Path textEncoder, Path textEncoder2, Path tokenizer) {
            return new Options(backend, dtype, vaeDtype, unet, vae, textEncoder, textEncoder2, tokenizer, prediction);
        }

        public Options withPrediction(String p) {
            return new Options(backend, dtype, vaeDtype, unet, vae, textEncoder, textEncoder2, tokenizer, p);
        }
    }

    private final ReentrantLock lock = new ReentrantLock(true);
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final StableDiffusionPipeline pipeline;
    private boolean closed;

    private StableDiffusion(Path model, Options o) {
        boolean ok = false;
        try {
            Backend backend = own(Backends.create(o.backend(), o.dtype()));
            Checkpoint ckpt = model == null ? null : own(Checkpoint.open(model, checkpointOptions(o)));
            UNet2DConditionModel unet = own(o.unet() != null ? UNet2DConditionModel.load(o.unet(), backend)
                    : required(ckpt, "unet").loadUnet(backend));
            Family family = ckpt != null && o.unet() == null ? ckpt.family() : familyOf(unet);
            Backend vaeBackend = vaeBackend(backend, family, o);
            AutoencoderKL vae = own(o.vae() != null ? AutoencoderKL.load(o.vae(), vaeBackend) : required(ckpt, "vae").loadVae(vaeBackend));
            CLIPTextModel te1 = family == Family.SDXL_REFINER ? null : own(textEncoder(ckpt, "text_encoder", o.textEncoder(), backend));
            CLIPTextModel te2 = family == Family.SDXL || family == Family.SDXL_REFINER
                    ? own(textEncoder(ckpt, "text_encoder_2", o.textEncoder2(), backend)) : null;
            ClipTokenizer tokenizer = tokenizer(model, o.tokenizer());
            TextConditioner text = new TextConditioner(family, tokenizer, te1, te2, backend);
            String name = model != null ? model.getFileName().toString().replaceFirst("\\.safetensors$", "")
                    : o.unet().getFileName().toString();
            this.pipeline = new StableDiffusionPipeline(family, text, unet, vae, backend, vaeBackend,
                    schedulerConfig(model, ckpt, o), name);
            ok = true;
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        } finally {
            if (!ok) closeOwned();
        }
    }

    /** A single-file checkpoint (A1111/ComfyUI naming) or a diffusers pipeline folder, on the CPU. */
    public static StableDiffusion open(Path model) {
        return new StableDiffusion(model, Options.defaults());
    }

    /** A model with options; {@code model} may be null when the options name every component. */
    public static StableDiffusion open(Path model, Options options) {
        if (model == null && (options.unet() == null || options.vae() == null)) {
            throw new IllegalArgumentException("no model: give a checkpoint or diffusers folder, or the unet, vae and text encoder folders");
        }
        return new StableDiffusion(model, options);
    }

    public Family family() {
        return pipeline.family();
    }

    /** Generates the request's images (blocking; other threads' requests wait their turn). */
    public GenerationResult generate(GenerationRequest request) {
        return generate(request, null, null);
    }

    /** With a per-step listener and a cancel flag checked between steps (both may be null). */
    public GenerationResult generate(GenerationRequest request, StepListener listener, BooleanSupplier cancel) {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("this StableDiffusion is closed");
            return pipeline.generate(request, listener, cancel);
        } finally {
            lock.unlock();
        }
    }

    /** The request with the model's defaults filled in (size, steps, CFG, a drawn seed). */
    public GenerationRequest resolve(GenerationRequest request) {
        return pipeline.resolve(request);
    }

    /** Frees the models, the mapped files and the backend's memory; waits for a running generation. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            closeOwned();
        } finally {
            lock.unlock();
        }
    }

    private <T extends AutoCloseable> T own(T resource) {
        if (resource != null) owned.add(resource);
        return resource;
    }

    private void closeOwned() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
            }
        }
        owned.clear();
        if (first != null) throw first;
    }

    private static Checkpoint.Options checkpointOptions(Options o) {
        return o.prediction() == null ? Checkpoint.Options.DEFAULT : Checkpoint.Options.DEFAULT.withPrediction(o.prediction());
    }

    private static Checkpoint required(Checkpoint ckpt, String component) {
        if (ckpt == null) throw new IllegalArgumentException("no model and no " + component + " folder given");
        return ckpt;
    }

    /** The family a U-Net's cross-attention width implies (for models built from parts). */
    static Family familyOf(UNet2DConditionModel unet) {
        int d = unet.config().crossAttentionDim()[0];
        return switch (d) {
            case 2048 -> Family.SDXL;
            case 1280 -> Family.SDXL_REFINER;
            case 1024 -> Family.SD2;
            default -> Family.SD1;
        };
    }

    private Backend vaeBackend(Backend backend, Family family, Options o) {
        String vd = o.vaeDtype();
        if (!(backend instanceof CudaBackend cuda)) return backend;
        if (vd == null && (family == Family.SDXL || family == Family.SDXL_REFINER) && cuda.dtype() == DType.F16) vd = "bf16";
        if (vd == null || Backends.parseDtype(vd) == cuda.dtype()) return backend;
        return own(Backends.create("cuda", vd));
    }

    private static CLIPTextModel textEncoder(Checkpoint ckpt, String component, Path folder, Backend backend) throws IOException {
        if (folder != null) return CLIPTextModel.load(folder, backend);
        if (ckpt == null || !ckpt.has(component)) {
            throw new IllegalArgumentException("the model has no " + component + ": give its folder (--"
                    + component.replace('_', '-') + ")");
        }
        return CLIPTextModel.load(ckpt, component, backend);
    }

    private static ClipTokenizer tokenizer(Path model, Path given) throws IOException {
        Path p = given;
        if (p == null && model != null && Files.isDirectory(model.resolve("tokenizer"))) p = model.resolve("tokenizer");
        if (p == null) return ClipTokenizer.load();
        return Files.isDirectory(p) ? ClipTokenizer.fromFolder(p) : ClipTokenizer.fromBpeFile(p);
    }

    private static SchedulerConfig schedulerConfig(Path model, Checkpoint ckpt, Options o) throws IOException {
        if (model != null && Files.isRegularFile(model.resolve("scheduler/scheduler_config.json"))) {
            SchedulerConfig c = SchedulerConfig.read(model.resolve("scheduler/scheduler_config.json"));
            return o.prediction() == null ? c : c.with("prediction_type", ckpt.prediction().type());
        }
        SchedulerConfig base = SchedulerConfig.sd15();
        if (ckpt != null) return base.with("prediction_type", ckpt.prediction().type());
        if (o.prediction() != null) return base.with("prediction_type", dev.sdj.io.checkpoint.Prediction.parse(o.prediction()));
        return base;
    }
}
