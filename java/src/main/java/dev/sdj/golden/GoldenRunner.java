package dev.sdj.golden;

import dev.sdj.backend.Backend;
import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.DiagonalGaussianDistribution;
import dev.sdj.model.UNet2DConditionModel;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Runs the cases of a golden folder (its cases.json, format in tests/golden/README.md) on the
 * engine and compares every expected output with its reference. Kinds the engine does not run
 * yet are skipped with the reason; anything that goes wrong inside a case fails that case only.
 * A case's model is a diffusers folder, or a single-file checkpoint with the component to load
 * and its config ({@link Checkpoint}).
 *
 * <p>Cases store tensors as diffusers does (NCHW); sdj's models take NHWC, so images and latents
 * are converted at entry and outputs converted back before comparing. The scheduler kinds run in
 * {@link SchedulerCases}.
 */
public final class GoldenRunner implements AutoCloseable {

    /** Kinds this runner runs; every other kind is skipped. */
    public static final Set<String> SUPPORTED_KINDS = Set.of("unet", "vae-decode", "vae-encode",
            "scheduler-schedule", "scheduler-trajectory", "img2img-start", "e2e", "rng", "text-encoder", "prompt-parse", "tokenizer",
            "pipeline");

    // The inputs each kind reads. Any other input fails the case: silently ignoring one would
    // compare the engine on different inputs than the reference used.
    private static final Map<String, Set<String>> INPUTS = Map.ofEntries(
            Map.entry("unet", Set.of("sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids")),
            Map.entry("vae-decode", Set.of("latent")),
            Map.entry("vae-encode", Set.of("image")),
            // the training-schedule case gives the config keys it was built with as literal inputs
            Map.entry("scheduler-schedule", Set.of("steps", "num_train_timesteps", "beta_start", "beta_end", "beta_schedule")),
            Map.entry("scheduler-trajectory", Set.of("x_T", "steps")),
            Map.entry("img2img-start", Set.of("init_latents", "noise", "steps", "strength")),
            Map.entry("e2e", Set.of("x_T", "uncond_embeddings", "cond_embeddings", "added_cond.text_embeds",
                    "added_cond.time_ids", "guidance", "steps")),
            Map.entry("rng", Set.of("generator", "seed", "draws", "dtype")),
            Map.entry("text-encoder", Set.of("input_ids")),
            Map.entry("tokenizer", Set.of("prompt", "max_length")),
            Map.entry("pipeline", Set.of("prompt", "negative_prompt", "seed", "steps", "guidance", "scheduler", "height",
                    "width")));

    /** Kinds whose outputs the backend computes; with a reduced-precision backend their limits are widened. */
    public static final Set<String> BACKEND_KINDS = Set.of("unet", "vae-decode", "vae-encode", "e2e");

    private final Path dir;
    private final Backend backend;
    private final DType compute;
    private final List<GoldenCase> cases;
    private final ModelCache models;

    private GoldenRunner(Path dir, Backend backend, DType compute, List<GoldenCase> cases) {
        this.dir = dir;
        this.backend = backend;
        this.compute = compute;
        this.cases = List.copyOf(cases);
        this.models = new ModelCache(backend);
    }

    /** Reads {@code dir}/cases.json. The backend stays the caller's; models are loaded on demand. */
    public static GoldenRunner open(Path dir, Backend backend) throws IOException {
        return open(dir, backend, DType.F32);
    }

    /**
     * The same for a backend that computes in {@code compute} (F32, F16 or BF16): the {@link #BACKEND_KINDS} cases
     * are judged with their tolerance {@linkplain Tolerance#forCompute widened} for that dtype; F32 keeps every case's
     * own tolerance, and the other kinds (schedulers, rng: host arithmetic) always do.
     */
    public static GoldenRunner open(Path dir, Backend backend, DType compute) throws IOException {
        if (compute != DType.F32 && compute != DType.F16 && compute != DType.BF16) {
            throw new IllegalArgumentException("compute dtype must be F32, F16 or BF16, is " + compute);
        }
        return new GoldenRunner(dir, backend, compute, GoldenCase.readAll(dir));
    }

    /** The backend's compute dtype the limits are set for. */
    public DType compute() {
        return compute;
    }

    public Path dir() {
        return dir;
    }

    public List<GoldenCase> cases() {
        return cases;
    }

    /** Runs the cases {@code which} accepts, in file order, handing each result to {@code each} as it comes. */
    public List<CaseResult> runAll(Predicate<GoldenCase> which, Consumer<CaseResult> each) {
        List<CaseResult> results = new ArrayList<>();
        for (GoldenCase c : cases) {
            if (!which.test(c)) continue;
            CaseResult r = run(c);
            results.add(r);
            each.accept(r);
        }
        return results;
    }

    /** Runs one case; never throws. */
    public CaseResult run(GoldenCase c) {
        if (c.kind() == null) return CaseResult.fail(c.name(), "the case has no \"kind\"");
        if (!SUPPORTED_KINDS.contains(c.kind())) return CaseResult.skip(c.name(), "kind " + c.kind() + " not supported yet");
        try (CaseFiles files = new CaseFiles()) {
            Tolerance tolerance = c.tolerance();
            if (BACKEND_KINDS.contains(c.kind())) tolerance = tolerance.forCompute(compute);
            if (c.kind().equals(PromptParseCases.KIND)) return PromptParseCases.run(c, files, tolerance);
            checkInputs(c);
            // The references first: a missing file or key fails before a model is loaded and run.
            Map<String, Tensor> expected = new LinkedHashMap<>();
            for (Map.Entry<String, Ref> e : c.expectedRefs().entrySet()) expected.put(e.getKey(), files.tensor(e.getValue()));
            if (SchedulerCases.KINDS.contains(c.kind())) return SchedulerCases.run(c, files, expected, tolerance);
            if (c.kind().equals("e2e")) {
                List<Compare.Result> more = new ArrayList<>();
                Map<String, Tensor> got = E2eCases.run(c, files, backend, compute, models, more);
                return judge(c, expected, tolerance, got, more);
            }
            Map<String, Tensor> got = switch (c.kind()) {
                case "unet" -> unet(c, files);
                case "vae-decode" -> vaeDecode(c, files);
                case "vae-encode" -> vaeEncode(c, files);
                case "rng" -> RngCases.run(c, files);
                case "text-encoder" -> TextEncoderCases.run(c, files, backend, models);
                case "tokenizer" -> TokenizerCases.run(c, files);
                case "pipeline" -> PipelineCases.run(c, backend, models);
                default -> throw new IllegalStateException("kind " + c.kind() + " is listed as supported but not run");
            };
            return judge(c, expected, tolerance, got, List.of());
        } catch (Exception | StackOverflowError e) {
            debug(c, e);
            return CaseResult.fail(c.name(), describe(e));
        }
    }

    /**
     * Every expected output against what the engine produced, plus {@code more}: comparisons the
     * kind made itself (a sampling loop's per-step records).
     */
    static CaseResult judge(GoldenCase c, Map<String, Tensor> expected, Tolerance tolerance, Map<String, Tensor> got,
                            List<Compare.Result> more) {
        List<String> all = new ArrayList<>(), failed = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            String output = e.getKey();
            Tensor g = got.get(output);
            if (g == null) {
                failed.add("kind " + c.kind() + " produces no output \"" + output + "\" (it produces " + got.keySet() + ")");
                continue;
            }
            Compare.Result r = Compare.compare(output, g, e.getValue(), tolerance.forOutput(output));
            all.add(r.text());
            if (!r.passed()) failed.add(r.text());
        }
        for (Compare.Result r : more) {
            all.add(r.text());
            if (!r.passed()) failed.add(r.text());
        }
        return failed.isEmpty() ? CaseResult.pass(c.name(), String.join("; ", all))
                : CaseResult.fail(c.name(), String.join("; ", failed));
    }

    private static void checkInputs(GoldenCase c) {
        for (String arg : c.inputNames()) {
            if (!INPUTS.get(c.kind()).contains(arg)) {
                throw new GoldenFormatException("input \"" + arg + "\" is not one the " + c.kind() + " runner reads "
                        + INPUTS.get(c.kind()) + "; it would be ignored");
            }
        }
    }

    // ---- kinds ----

    private Map<String, Tensor> unet(GoldenCase c, CaseFiles f) throws IOException {
        Tensor sample = nhwc(c, f, "sample");
        float[] timesteps = timesteps(f.tensor(c.inputRef("timestep")));
        Tensor ehs = backend.upload(f.tensor(c.inputRef("encoder_hidden_states")));
        boolean hasText = c.input("text_embeds") != null, hasIds = c.input("time_ids") != null;
        if (hasText != hasIds) throw new GoldenFormatException("SDXL's added conditions need both text_embeds and time_ids");
        AddedConditions added = hasText ? new AddedConditions(backend.upload(f.tensor(c.inputRef("text_embeds"))),
                backend.upload(f.tensor(c.inputRef("time_ids")))) : null;
        UNet2DConditionModel unet = unet(c);
        return Map.of("output", nchw(unet.forward(sample, timesteps, ehs, added)));
    }

    private Map<String, Tensor> vaeDecode(GoldenCase c, CaseFiles f) throws IOException {
        Tensor latent = nhwc(c, f, "latent");
        AutoencoderKL vae = vae(c);
        return Map.of("output", nchw(vae.decode(latent)));
    }

    private Map<String, Tensor> vaeEncode(GoldenCase c, CaseFiles f) throws IOException {
        Tensor image = nhwc(c, f, "image");
        AutoencoderKL vae = vae(c);
        DiagonalGaussianDistribution d = vae.encode(image);
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("moments", nchw(d.moments()));
        out.put("mean", nchw(d.mean()));
        out.put("logvar", nchw(d.logvar()));
        out.put("std", nchw(d.std()));
        return out;
    }

    // ---- models ----

    private UNet2DConditionModel unet(GoldenCase c) throws IOException {
        if (!c.isSingleFile()) return models.get(model(c), UNet2DConditionModel.class, UNet2DConditionModel::load);
        requireComponent(c, "unet");
        Checkpoint.Options options = Checkpoint.Options.DEFAULT.withUnetConfig(c.config());
        return models.get(model(c), c.config(), UNet2DConditionModel.class, (path, b) -> {
            try (Checkpoint checkpoint = Checkpoint.open(path, options)) {
                return checkpoint.loadUnet(b);
            }
        });
    }

    private AutoencoderKL vae(GoldenCase c) throws IOException {
        if (!c.isSingleFile()) return models.get(model(c), AutoencoderKL.class, AutoencoderKL::load);
        requireComponent(c, "vae");
        Checkpoint.Options options = Checkpoint.Options.DEFAULT.withVaeConfig(c.config());
        return models.get(model(c), c.config(), AutoencoderKL.class, (path, b) -> {
            try (Checkpoint checkpoint = Checkpoint.open(path, options)) {
                return checkpoint.loadVae(b);
            }
        });
    }

    /**
     * A single-file case's "component" must be the one its kind runs. (Without a "config" the
     * detected family's built-in config is used.)
     */
    private static void requireComponent(GoldenCase c, String component) {
        if (c.component() != null && !c.component().equals(component)) {
            throw new GoldenFormatException("kind " + c.kind() + " loads the " + component + ", but the case's \"component\" is "
                    + c.component());
        }
    }

    // ---- inputs and outputs ----

    private static Path model(GoldenCase c) {
        if (c.model() == null) throw new GoldenFormatException("the case has no \"model\"");
        return c.model();
    }

    /** An NCHW image/latent input as the backend's NHWC tensor. */
    private Tensor nhwc(GoldenCase c, CaseFiles f, String arg) throws IOException {
        Tensor t = f.tensor(c.inputRef(arg));
        if (t.rank() != 4) throw new GoldenFormatException("input " + arg + " must be 4-D NCHW, is " + Arrays.toString(t.shape()));
        return backend.nchwToNhwc(backend.upload(t.withLayout(Layout.NCHW)));
    }

    /** An NHWC model output as a host NCHW tensor, as diffusers returns it. */
    private Tensor nchw(Tensor nhwc) {
        return backend.download(backend.nhwcToNchw(nhwc));
    }

    /** A timestep scalar or one per sample, I64 or F32 as diffusers wrote it. */
    private static float[] timesteps(Tensor t) {
        if (t.rank() > 1 || t.numel() == 0) {
            throw new GoldenFormatException("timestep must be a scalar or a 1-D tensor, is " + t.dtype() + Arrays.toString(t.shape()));
        }
        float[] ts = new float[(int) t.numel()];
        for (int i = 0; i < ts.length; i++) ts[i] = t.getFloat(i);
        return ts;
    }

    // ---- errors ----

    /** One line that says what went wrong, without a stack trace. */
    static String describe(Throwable e) {
        String msg;
        if (e instanceof NoSuchFileException n) {
            msg = n.getFile() + ": " + (n.getReason() != null ? n.getReason() : "no such file");
        } else if (e instanceof IOException || e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof UnsupportedOperationException) {
            msg = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        } else {
            // Anything else is likely a bug in sdj: name the exception so it can be found.
            msg = e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "");
        }
        return msg.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    private static void debug(GoldenCase c, Throwable e) {
        if (Boolean.getBoolean("sdj.debug")) {
            System.err.println(c.name() + ":");
            e.printStackTrace();
        }
    }

    /** Closes the models loaded by this run (not the backend, which is the caller's). */
    @Override
    public void close() {
        models.close();
    }
}
