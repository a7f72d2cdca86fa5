package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sdj.backend.Backend;
import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.pipeline.Conditioning;
import dev.sdj.pipeline.DenoisingLoop;
import dev.sdj.rng.TorchCpuGenerator;
import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.Schedulers;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The "e2e" kind: sdj's denoising loop (CFG, the case's scheduler, the tiny U-Net) from the
 * given x_T and embeddings, then the VAE decode of latents / scaling_factor; final latents,
 * image, timesteps and every step's records against diffusers'.
 */
final class E2eCases {
    private E2eCases() {}

    /** {@code compute}: the backend's dtype, which widens the per_step limits as it does the case's tolerance. */
    static Map<String, Tensor> run(GoldenCase c, CaseFiles f, Backend b, DType compute, ModelCache models, List<Compare.Result> more)
            throws IOException {
        UNet2DConditionModel unet = models.get(modelPath(c, "unet"), UNet2DConditionModel.class, UNet2DConditionModel::load);
        AutoencoderKL vae = models.get(modelPath(c, "vae"), AutoencoderKL.class, AutoencoderKL::load);
        Scheduler scheduler = Schedulers.create(text(c, "scheduler_class"),
                SchedulerConfig.read(c.dir().resolve(text(c, "scheduler_config"))));

        Tensor xT = f.tensor(c.inputRef("x_T"));
        int[] shape = xT.shape();
        Conditioning cond = conditioning(c, f, b);
        float guidance = (float) number(c, "guidance");
        int steps = (int) number(c, "steps");

        // diffusers draws x_T from the pipeline's generator, and each step's noise from the one
        // passed to step() (Generator(999) in these cases): x_T is given, then that generator.
        NoiseSource noise = new NoiseSource() {
            private final TorchCpuGenerator stepNoise = new TorchCpuGenerator(999);
            private boolean first = true;

            @Override
            public float[] randn(int... s) {
                if (first) {
                    first = false;
                    if (!Arrays.equals(s, shape)) throw new IllegalStateException("x_T is " + Arrays.toString(shape) + ", the loop drew " + Arrays.toString(s));
                    return xT.toFloatArray();
                }
                return stepNoise.randn(s);
            }
        };

        List<Map<String, Tensor>> records = new ArrayList<>();
        int[] batchShape = shape.clone();
        batchShape[0] *= 2;
        DenoisingLoop.Request r = DenoisingLoop.Request.txt2img(shape, cond, scheduler, steps, guidance, noise)
                .withTrace((step, t, input, uncond, text, guided, latents) -> {
                    Map<String, Tensor> rec = new LinkedHashMap<>();
                    rec.put("timestep", Tensor.of(new float[] {t}));
                    rec.put("model_input", Tensor.of(concat(input, input), batchShape));
                    if (uncond != null) rec.put("noise_pred_uncond", Tensor.of(uncond, shape));
                    rec.put("noise_pred_text", Tensor.of(text, shape));
                    rec.put("guided", Tensor.of(guided, shape));
                    rec.put("latents", Tensor.of(latents, shape));
                    records.add(rec);
                });
        float[] latents = new DenoisingLoop(unet, b).run(r);
        more.add(SchedulerCases.perStep(c, f, records, compute));

        float[] scaled = latents.clone();
        float factor = vae.scalingFactor();
        for (int i = 0; i < scaled.length; i++) scaled[i] /= factor;
        Tensor image = b.nhwcToNchw(vae.decode(b.nchwToNhwc(b.upload(Tensor.of(scaled, Layout.NCHW, shape)))));

        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("final_latents", Tensor.of(latents, shape));
        out.put("image", b.download(image));
        out.put("timesteps", Tensor.of(scheduler.timesteps(), scheduler.timesteps().length));
        return out;
    }

    /** Embeddings [1, L, D] each; SDXL's added conditions come batched [uncond; cond] (2, n). */
    private static Conditioning conditioning(GoldenCase c, CaseFiles f, Backend b) throws IOException {
        Tensor uncond = b.upload(f.tensor(c.inputRef("uncond_embeddings")));
        Tensor cond = b.upload(f.tensor(c.inputRef("cond_embeddings")));
        if (c.input("added_cond.text_embeds") == null) return Conditioning.of(cond, uncond);
        Tensor text = f.tensor(c.inputRef("added_cond.text_embeds")).toF32(), ids = f.tensor(c.inputRef("added_cond.time_ids")).toF32();
        return new Conditioning(cond, uncond, new AddedConditions(row(b, text, 1), row(b, ids, 1)),
                new AddedConditions(row(b, text, 0), row(b, ids, 0)));
    }

    private static Tensor row(Backend b, Tensor t, int r) {
        int n = t.dim(1);
        float[] all = t.toFloatArray();
        return b.upload(Tensor.of(Arrays.copyOfRange(all, r * n, (r + 1) * n), 1, n));
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static Path modelPath(GoldenCase c, String role) {
        JsonNode models = c.json().get("models");
        if (models == null || models.get(role) == null) throw new GoldenFormatException("the case has no models." + role);
        return c.dir().resolve(models.get(role).asText());
    }

    static String text(GoldenCase c, String field) {
        JsonNode n = c.json().get(field);
        if (n == null || !n.isTextual()) throw new GoldenFormatException("the case has no \"" + field + "\"");
        return n.asText();
    }

    private static double number(GoldenCase c, String arg) {
        JsonNode n = c.input(arg);
        if (n == null || !n.isNumber()) throw new GoldenFormatException("input \"" + arg + "\" must be a number, is " + n);
        return n.doubleValue();
    }
}
