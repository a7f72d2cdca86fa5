package dev.sdj.pipeline;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.image.Images;
import dev.sdj.io.checkpoint.Checkpoint.Family;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.DiagonalGaussianDistribution;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.Schedulers;
import dev.sdj.rng.Rngs;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/**
 * Prompt to picture, as diffusers' StableDiffusion(XL)Pipeline runs it: the text conditioning
 * ({@link TextConditioner}), seeded noise, the CFG denoising loop ({@link DenoisingLoop}) with the chosen
 * sampler, the VAE decode of latents / scaling_factor and diffusers' postprocess to 8-bit RGB. img2img encodes
 * the init image first (posterior sample with the seed's generator, as diffusers does) and runs the last
 * {@code strength} of the schedule.
 *
 * <p>The VAE may run on its own backend (SDXL's VAE overflows in fp16: give it a bf16 or fp32 one); a decode
 * that still produces NaN or ±Inf is an error, never a black image. Not thread-safe: {@code dev.sdj.StableDiffusion}
 * serializes requests.
 */
public final class StableDiffusionPipeline {
    private final Family family;
    private final TextConditioner text;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final Backend backend;
    private final Backend vaeBackend;
    private final SchedulerConfig schedulerConfig;
    private final String modelName;

    public StableDiffusionPipeline(Family family, TextConditioner text, UNet2DConditionModel unet, AutoencoderKL vae,
                                   Backend backend, Backend vaeBackend, SchedulerConfig schedulerConfig, String modelName) {
        this.family = family;
        this.text = text;
        this.unet = unet;
        this.vae = vae;
        this.backend = backend;
        this.vaeBackend = vaeBackend == null ? backend : vaeBackend;
        this.schedulerConfig = schedulerConfig;
        this.modelName = modelName;
    }

    public Family family() {
        return family;
    }

    /** The family's default size (SD1 512, SD2 768, SDXL 1024). */
    public int defaultSize() {
        return switch (family) {
            case SD1 -> 512;
            case SD2 -> 768;
            case SDXL, SDXL_REFINER -> 1024;
        };
    }

    /** Fills the request's zeros with the family's defaults and draws a seed for -1. */
    public GenerationRequest resolve(GenerationRequest r) {
        int size = defaultSize();
        GenerationRequest out = r;
        if (r.width() == 0 || r.height() == 0) {
            int w = r.width() != 0 ? r.width() : r.initImage() != null ? r.initImage().getWidth() / 8 * 8 : size;
            int h = r.height() != 0 ? r.height() : r.initImage() != null ? r.initImage().getHeight() / 8 * 8 : size;
            out = out.withSize(w, h);
        }
        if (r.steps() == 0) out = out.withSteps(20);
        if (r.guidance() == 0f) out = out.withGuidance(family == Family.SDXL || family == Family.SDXL_REFINER ? 5f : 7.5f);
        if (r.seed() == -1) out = out.withSeed(ThreadLocalRandom.current().nextLong(0, 1L << 32));
        return out;
    }

    /** Generates every image of the request; listener and cancel may be null. */
    public GenerationResult generate(GenerationRequest request, StepListener listener, BooleanSupplier cancel) {
        GenerationRequest r = resolve(request);
        Map<String, Duration> timings = new LinkedHashMap<>();
        List<GenerationResult.Image> images = new ArrayList<>();
        try (Backend.Scope run = backend.scope()) {
            long t0 = System.nanoTime();
            Conditioning c = text.encode(r.prompt(), r.negativePrompt(), r.syntax(), r.clipSkip(), r.height(), r.width());
            add(timings, "text", t0);
            for (int i = 0; i < r.batch(); i++) {
                long seed = r.seed() + i;
                NoiseSource noise = Rngs.byName(r.rng(), seed);
                float[] init = null;
                if (r.initImage() != null) {
                    long te = System.nanoTime();
                    init = encode(r.initImage(), r.width(), r.height(), noise);
                    add(timings, "encode", te);
                }
                try (Backend.Scope image = backend.scope()) {
                    long td = System.nanoTime();
                    Tensor latents = denoiseOnDevice(Schedulers.byName(r.sampler(), schedulerConfig), r, c, noise, init,
                            listener, cancel);
                    if (backend instanceof dev.sdj.backend.cuda.CudaBackend cuda) cuda.synchronize(); // the time is the GPU's
                    add(timings, "denoise", td);
                    long tv = System.nanoTime();
                    float[] pixels = decode(latents);
                    BufferedImage img = Images.toImage(pixels, 0, r.height(), r.width());
                    add(timings, "decode", tv);
                    images.add(new GenerationResult.Image(img, seed, parameters(r, seed)));
                }
            }
        }
        return new GenerationResult(List.copyOf(images), timings);
    }

    /**
     * The CFG loop for one image on the backend ({@link DeviceDenoisingLoop}): final latents NHWC (1, h/8, w/8, 4),
     * in the caller's scope. {@code scheduler}: built from the request's sampler, or by the caller from a
     * diffusers scheduler_config.json of its own.
     */
    public Tensor denoiseOnDevice(Scheduler scheduler, GenerationRequest r, Conditioning c, NoiseSource noise,
                                  float[] initLatents, StepListener listener, BooleanSupplier cancel) {
        int[] shape = {1, unet.config().inChannels(), r.height() / 8, r.width() / 8};
        DenoisingLoop.Request req = DenoisingLoop.Request.txt2img(shape, c, scheduler, r.steps(), r.guidance(), noise);
        if (listener != null) req = req.withListener(listener);
        if (cancel != null) req = req.withCancel(cancel);
        if (initLatents != null) req = req.img2img(initLatents, r.strength());
        return new DeviceDenoisingLoop(unet, backend).run(req);
    }

    /** {@link #denoiseOnDevice}, downloaded: final latents (1, 4, h/8, w/8) NCHW on the host. */
    public float[] denoise(Scheduler scheduler, GenerationRequest r, Conditioning c, NoiseSource noise, float[] initLatents,
                           StepListener listener, BooleanSupplier cancel) {
        try (Backend.Scope s = backend.scope()) {
            Tensor latents = denoiseOnDevice(scheduler, r, c, noise, initLatents, listener, cancel);
            return backend.download(backend.nhwcToNchw(latents)).toFloatArray();
        }
    }

    /**
     * Latents NHWC on the backend → decoded pixels (1, 3, H, W) in about [-1, 1] on the host, checked for NaN/Inf:
     * the one copy out of a generation. A VAE on another backend (SDXL's in bf16) gets the latents via the host.
     */
    public float[] decode(Tensor latents) {
        if (vaeBackend != backend) {
            int h = latents.dim(1), w = latents.dim(2);
            return decode(backend.download(backend.nhwcToNchw(latents)).toFloatArray(), h, w);
        }
        try (Backend.Scope s = backend.scope()) {
            Tensor image = vae.decode(backend.scale(latents, 1f / vae.scalingFactor()));
            return checkFinite(backend.download(backend.nhwcToNchw(image)).toFloatArray());
        }
    }

    /** Latents (NCHW) → decoded pixels (1, 3, H, W) in about [-1, 1], checked for NaN/Inf. */
    public float[] decode(float[] latents, int h, int w) {
        float scale = vae.scalingFactor();
        float[] scaled = new float[latents.length];
        for (int i = 0; i < scaled.length; i++) scaled[i] = latents[i] / scale;
        int channels = latents.length / (h * w);
        float[] pixels;
        try (Backend.Scope s = vaeBackend.scope()) {
            Tensor z = vaeBackend.nchwToNhwc(vaeBackend.upload(Tensor.of(scaled, Layout.NCHW, 1, channels, h, w)));
            pixels = vaeBackend.download(vaeBackend.nhwcToNchw(vae.decode(z))).toFloatArray();
        }
        return checkFinite(pixels);
    }

    private static float[] checkFinite(float[] pixels) {
        int bad = 0;
        for (float v : pixels) if (!Float.isFinite(v)) bad++;
        if (bad > 0) {
            throw new IllegalStateException("the VAE decode produced " + bad + " non-finite values of " + pixels.length
                    + " (an fp16 VAE overflows, SDXL's especially): decode in bf16 or fp32 (--vae-dtype)");
        }
        return pixels;
    }

    /** img2img: the init image's latents (posterior sample · scaling_factor), drawing the sample's noise from {@code noise}. */
    private float[] encode(BufferedImage image, int width, int height, NoiseSource noise) {
        float[] pixels = Images.toPixels(image, width, height);
        try (Backend.Scope s = vaeBackend.scope()) {
            Tensor x = vaeBackend.nchwToNhwc(vaeBackend.upload(Tensor.of(pixels, Layout.NCHW, 1, 3, height, width)));
            DiagonalGaussianDistribution d = vae.encode(x);
            int[] ms = d.mean().shape(); // NHWC
            float[] eps = noise.randn(ms[0], ms[3], ms[1], ms[2]);
            Tensor epsNhwc = vaeBackend.nchwToNhwc(vaeBackend.upload(Tensor.of(eps, Layout.NCHW, ms[0], ms[3], ms[1], ms[2])));
            float[] latents = vaeBackend.download(vaeBackend.nhwcToNchw(d.sample(vaeBackend, epsNhwc))).toFloatArray();
            float scale = vae.scalingFactor();
            for (int i = 0; i < latents.length; i++) latents[i] *= scale;
            return latents;
        }
    }

    /** A1111's "parameters" text: prompt, "Negative prompt: …", then "Steps: …, Sampler: …, …". */
    public String parameters(GenerationRequest r, long seed) {
        StringBuilder sb = new StringBuilder(r.prompt());
        if (!r.negativePrompt().isEmpty()) sb.append("\nNegative prompt: ").append(r.negativePrompt());
        sb.append(String.format(Locale.ROOT, "\nSteps: %d, Sampler: %s, CFG scale: %s, Seed: %d, Size: %dx%d",
                r.steps(), a1111SamplerName(r.sampler()), trim(r.guidance()), seed, r.width(), r.height()));
        if (modelName != null) sb.append(", Model: ").append(modelName);
        if (r.initImage() != null) sb.append(", Denoising strength: ").append(trim(r.strength()));
        if (r.clipSkip() != 1) sb.append(", Clip skip: ").append(r.clipSkip());
        if (!r.rng().equals("torch-cpu")) sb.append(", RNG: ").append(r.rng().equals("philox") ? "NV" : r.rng());
        else sb.append(", RNG: CPU");
        sb.append(", Version: sdj");
        return sb.toString();
    }

    private static String trim(float v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    /** The names A1111 writes for sdj's samplers. */
    static String a1111SamplerName(String sampler) {
        return switch (sampler) {
            case "ddim" -> "DDIM";
            case "pndm" -> "PLMS";
            case "lms" -> "LMS";
            case "euler" -> "Euler";
            case "euler_a" -> "Euler a";
            case "heun" -> "Heun";
            case "dpmpp_2m" -> "DPM++ 2M";
            case "dpmpp_2m_karras" -> "DPM++ 2M Karras";
            case "dpmpp_2m_sde_karras" -> "DPM++ 2M SDE Karras";
            case "unipc" -> "UniPC";
            case "lcm" -> "LCM";
            default -> sampler;
        };
    }

    private static void add(Map<String, Duration> timings, String stage, long t0) {
        timings.merge(stage, Duration.ofNanos(System.nanoTime() - t0), Duration::plus);
    }
}
