package dev.sdj.golden;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.image.Images;
import dev.sdj.io.checkpoint.Checkpoint.Family;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.model.clip.CLIPTextModel;
import dev.sdj.pipeline.Conditioning;
import dev.sdj.pipeline.GenerationRequest;
import dev.sdj.pipeline.StableDiffusionPipeline;
import dev.sdj.pipeline.TextConditioner;
import dev.sdj.rng.Rngs;
import dev.sdj.rng.TorchCpuGenerator;
import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.sched.Schedulers;
import dev.sdj.text.ClipTokenizer;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The "pipeline" kind: prompt, negative prompt and seed alone, through sdj's own pipeline: the CLIP tokenizer,
 * the text encoder (diffusers' syntax: the text as written, at most 75 tokens), the seed's torch CPU generator
 * for x_T and every step's noise, the CFG loop with the case's scheduler, the VAE decode and diffusers'
 * postprocess. Nothing is injected.
 */
final class PipelineCases {
    static final String KIND = "pipeline";

    private PipelineCases() {}

    static Map<String, Tensor> run(GoldenCase c, Backend b, ModelCache models) throws IOException {
        ClipTokenizer tokenizer = ClipTokenizer.fromBpeFile(E2eCases.modelPath(c, "tokenizer"));
        CLIPTextModel textEncoder = models.get(E2eCases.modelPath(c, "text_encoder"), CLIPTextModel.class, CLIPTextModel::load);
        UNet2DConditionModel unet = models.get(E2eCases.modelPath(c, "unet"), UNet2DConditionModel.class, UNet2DConditionModel::load);
        AutoencoderKL vae = models.get(E2eCases.modelPath(c, "vae"), AutoencoderKL.class, AutoencoderKL::load);
        Scheduler scheduler = Schedulers.create(E2eCases.text(c, "scheduler_class"),
                SchedulerConfig.read(c.dir().resolve(E2eCases.text(c, "scheduler_config"))));
        TextConditioner text = new TextConditioner(Family.SD1, tokenizer, textEncoder, null, b);
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(Family.SD1, text, unet, vae, b, b,
                SchedulerConfig.sd15(), null);

        String prompt = c.input("prompt").asText(), negative = c.input("negative_prompt").asText();
        long seed = c.input("seed").asLong();
        int height = c.input("height").asInt(), width = c.input("width").asInt();
        GenerationRequest r = GenerationRequest.of(prompt).withNegativePrompt(negative).withSeed(seed)
                .withSteps(c.input("steps").asInt()).withGuidance((float) c.input("guidance").asDouble())
                .withSize(width, height).withSyntax(TextConditioner.Syntax.DIFFUSERS);

        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Backend.Scope scope = b.scope()) {
            TextConditioner.Encoded cond = text.encodeOne(prompt, TextConditioner.Syntax.DIFFUSERS, 1);
            TextConditioner.Encoded uncond = text.encodeOne(negative, TextConditioner.Syntax.DIFFUSERS, 1);
            out.put("input_ids", ids(cond.firstIds()));
            out.put("negative_input_ids", ids(uncond.firstIds()));
            out.put("prompt_embeds", b.download(cond.context()));
            out.put("negative_prompt_embeds", b.download(uncond.context()));

            int[] shape = {1, unet.config().inChannels(), height / 8, width / 8};
            out.put("x_T", Tensor.of(new TorchCpuGenerator(seed).randn(shape), shape));
            NoiseSource noise = Rngs.byName("torch-cpu", seed);
            float[] latents = pipeline.denoise(scheduler, r, Conditioning.of(cond.context(), uncond.context()), noise,
                    null, null, null);
            out.put("final_latents", Tensor.of(latents, shape));
            out.put("timesteps", Tensor.of(scheduler.timesteps(), scheduler.timesteps().length));

            float[] pixels = pipeline.decode(latents, height / 8, width / 8);
            float[] image = new float[pixels.length];
            for (int i = 0; i < image.length; i++) image[i] = Math.clamp(pixels[i] / 2f + 0.5f, 0f, 1f);
            out.put("image", Tensor.of(image, Layout.NCHW, 1, 3, height, width));
            float[] hwc = new float[pixels.length];
            int plane = height * width;
            for (int p = 0; p < plane; p++) {
                for (int ch = 0; ch < 3; ch++) hwc[p * 3 + ch] = Images.toUint8(pixels[ch * plane + p]);
            }
            out.put("image_uint8", Tensor.of(hwc, height, width, 3));
        }
        return out;
    }

    private static Tensor ids(int[] ids) {
        float[] v = new float[ids.length];
        for (int i = 0; i < ids.length; i++) v[i] = ids[i];
        return Tensor.of(v, 1, ids.length);
    }
}
