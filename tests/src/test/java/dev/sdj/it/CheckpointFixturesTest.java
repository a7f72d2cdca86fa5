package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.golden.CaseResult;
import dev.sdj.golden.GoldenRunner;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.SafeTensorsWriter;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.io.checkpoint.CheckpointWeights;
import dev.sdj.io.checkpoint.LdmKeyMap;
import dev.sdj.io.checkpoint.Prediction;
import dev.sdj.model.AutoencoderKLConfig;
import dev.sdj.model.UNet2DConditionConfig;
import dev.sdj.model.UNet2DConditionModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Single-file checkpoints in the SD2, SDXL base and refiner, inpainting and BF16 forms, and a
 * diffusers pipeline folder, all built here from the tiny golden models: each is detected as its
 * family, and loading it reproduces the golden diffusers outputs through the golden runner.
 */
class CheckpointFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path sd2, sdxl, refiner, inpaint, bf16, folder;

    static Path golden(String p) {
        return Golden.root().resolve(p);
    }

    @BeforeAll
    static void writeFixtures() throws Exception {
        UNet2DConditionConfig sd2Unet = UNet2DConditionConfig.read(golden("unet-sd2-tiny/config.json"));
        UNet2DConditionConfig xlUnet = UNet2DConditionConfig.read(golden("unet-sdxl-tiny/config.json"));
        AutoencoderKLConfig vae = AutoencoderKLConfig.read(golden("vae-tiny/config.json"));
        String weights = "diffusion_pytorch_model.safetensors";

        // SD2: OpenCLIP ViT-H-style text encoder under cond_stage_model.model., linear proj_in, DDPM buffers.
        Map<String, Tensor> t = new LinkedHashMap<>();
        CheckpointFixtures.putLdm(t, golden("unet-sd2-tiny/" + weights), LdmKeyMap.unet(sd2Unet));
        CheckpointFixtures.putLdm(t, golden("vae-tiny/" + weights), LdmKeyMap.vae(vae));
        CheckpointFixtures.putOpenClip(t, "cond_stage_model.model.", 64, 3, 1);
        CheckpointFixtures.putDdpmBuffers(t);
        sd2 = dir.resolve("sd2-tiny.safetensors");
        SafeTensorsWriter.write(sd2, t, Map.of("format", "pt"));

        // SDXL base: label_emb, CLIP-L (HF names) under embedders.0, OpenCLIP bigG under embedders.1.
        t = new LinkedHashMap<>();
        CheckpointFixtures.putLdm(t, golden("unet-sdxl-tiny/" + weights), LdmKeyMap.unet(xlUnet));
        CheckpointFixtures.putLdm(t, golden("vae-tiny/" + weights), LdmKeyMap.vae(vae));
        CheckpointFixtures.putClip(t, "conditioner.embedders.0.transformer.", 32, 2, 2);
        CheckpointFixtures.putOpenClip(t, "conditioner.embedders.1.model.", 64, 2, 3);
        sdxl = dir.resolve("sdxl-tiny.safetensors");
        SafeTensorsWriter.write(sdxl, t, null);

        // SDXL refiner: the one OpenCLIP encoder under embedders.0.model.
        t = new LinkedHashMap<>();
        CheckpointFixtures.putLdm(t, golden("unet-sdxl-tiny/" + weights), LdmKeyMap.unet(xlUnet));
        CheckpointFixtures.putOpenClip(t, "conditioner.embedders.0.model.", 64, 2, 4);
        refiner = dir.resolve("sdxl-refiner-tiny.safetensors");
        SafeTensorsWriter.write(refiner, t, null);

        // SD1 inpainting: the golden LDM checkpoint with a 9-channel conv_in, plus an SD1 CLIP text encoder.
        t = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(golden("checkpoint-ldm/checkpoint-ldm-tiny.safetensors"))) {
            for (String n : f.names()) t.put(n, CheckpointFixtures.copy(f.tensor(n)));
        }
        t.put("model.diffusion_model.input_blocks.0.0.weight",
                CheckpointFixtures.random(new java.util.SplittableRandom(5), 16, 9, 3, 3));
        CheckpointFixtures.putClip(t, "cond_stage_model.transformer.", 48, 1, 6);
        inpaint = dir.resolve("sd15-inpaint-tiny.safetensors");
        SafeTensorsWriter.write(inpaint, t, null);

        // BF16: every tensor of the golden LDM checkpoint rounded to bfloat16.
        t = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(golden("checkpoint-ldm/checkpoint-ldm-tiny.safetensors"))) {
            for (String n : f.names()) t.put(n, f.tensor(n).to(DType.BF16));
        }
        bf16 = dir.resolve("sd15-bf16.safetensors");
        SafeTensorsWriter.write(bf16, t, null);

        // A diffusers pipeline folder around the tiny SD1.5 U-Net and VAE.
        folder = Files.createDirectories(dir.resolve("pipeline"));
        for (String[] c : new String[][] {{"unet", "unet-sd15-tiny"}, {"vae", "vae-tiny"}}) {
            Path d = Files.createDirectories(folder.resolve(c[0]));
            Files.copy(golden(c[1] + "/config.json"), d.resolve("config.json"));
            Files.copy(golden(c[1] + "/" + weights), d.resolve(weights));
        }
        Path te = Files.createDirectories(folder.resolve("text_encoder"));
        Files.writeString(te.resolve("config.json"), """
                {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_size": 48,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 192}""");
        Map<String, Tensor> clip = new LinkedHashMap<>();
        CheckpointFixtures.putClip(clip, "", 48, 2, 7);
        clip.remove("text_model.embeddings.position_ids");
        SafeTensorsWriter.write(te.resolve("model.safetensors"), clip, null);
        Files.writeString(Files.createDirectories(folder.resolve("scheduler")).resolve("scheduler_config.json"),
                "{\"_class_name\": \"EulerDiscreteScheduler\", \"prediction_type\": \"v_prediction\"}");
        Files.writeString(Files.createDirectories(folder.resolve("tokenizer")).resolve("vocab.json"), "{}");
        Files.writeString(folder.resolve("model_index.json"), """
                {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.24.0",
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                 "scheduler": ["diffusers", "EulerDiscreteScheduler"], "safety_checker": [null, null],
                 "feature_extractor": [null, null]}""");
    }

    /**
     * The golden cases named, run with {@code model} as their model (a single file: the
     * component the kind loads with {@code config}; a folder: as it is) through the golden runner.
     */
    private static List<CaseResult> runGolden(Path model, Map<String, String> casesAndConfigs) throws Exception {
        JsonNode all = JSON.readTree(golden("cases.json").toFile()).get("cases");
        ArrayNode cases = JSON.createArrayNode();
        for (JsonNode c : all) {
            String config = casesAndConfigs.get(c.get("name").asText());
            if (config == null) continue;
            ObjectNode copy = c.deepCopy();
            copy.put("model", model.toString());
            copy.put("file", golden(c.get("file").asText()).toString());
            if (!config.isEmpty()) {
                copy.put("component", c.get("kind").asText().equals("unet") ? "unet" : "vae");
                copy.put("config", golden(config).toString());
            }
            cases.add(copy);
        }
        assertEquals(casesAndConfigs.size(), cases.size());
        Path caseDir = Files.createTempDirectory(dir, "cases");
        ObjectNode root = JSON.createObjectNode();
        root.put("version", 1);
        root.set("cases", cases);
        Files.writeString(caseDir.resolve("cases.json"), root.toString());
        try (CpuBackend cpu = new CpuBackend(); GoldenRunner runner = GoldenRunner.open(caseDir, cpu)) {
            List<CaseResult> results = runner.runAll(c -> true, r -> System.out.println(model.getFileName() + ": " + r.line()));
            for (CaseResult r : results) assertEquals(CaseResult.Status.PASS, r.status(), r.line());
            return results;
        }
    }

    @Test
    void sd2SingleFileIsDetectedAndReproducesTheGoldenUNetAndVae() throws Exception {
        try (Checkpoint ck = Checkpoint.open(sd2)) {
            assertEquals(Checkpoint.Family.SD2, ck.family());
            assertEquals("SD2.x", ck.familyName());
            assertEquals(List.of("unet", "vae", "text_encoder"), ck.components());
            assertEquals(Prediction.EPSILON, ck.prediction().type());
            assertTrue(ck.prediction().source().contains("--prediction v"), ck.prediction().source());
            assertEquals(1024, ck.unetConfig().crossAttentionDim()[0]); // the built-in SD2.1 config
            assertEquals(0.18215f, ck.vaeConfig().scalingFactor());
            // The text encoder's names: q/k/v are zero-copy thirds of the fused in_proj, text_projection is transposed.
            try (CheckpointWeights te = ck.weights("text_encoder"); SafeTensorsFile f = SafeTensorsFile.open(sd2)) {
                Tensor inProj = f.tensor("cond_stage_model.model.transformer.resblocks.1.attn.in_proj_weight");
                for (int q = 0; q < 3; q++) {
                    String name = "text_model.encoder.layers.1.self_attn." + "qkv".charAt(q) + "_proj.weight";
                    Tensor part = te.get(name, 64, 64);
                    assertTrue(part.data().isMapped(), name + " is a view of the mapping");
                    assertEquals(DType.F32, part.dtype());
                    for (int i = 0; i < 64 * 64; i++) assertEquals(inProj.getFloat(q * 64 * 64 + i), part.getFloat(i), name);
                }
                Tensor bias = te.get("text_model.encoder.layers.0.self_attn.v_proj.bias", 64);
                Tensor fused = f.tensor("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias");
                for (int i = 0; i < 64; i++) assertEquals(fused.getFloat(128 + i), bias.getFloat(i));
                Tensor proj = te.get("text_projection.weight", 72, 64), p = f.tensor("cond_stage_model.model.text_projection");
                for (int i = 0; i < 64; i++) for (int j = 0; j < 72; j++) assertEquals(p.getFloat(i * 72 + j), proj.getFloat(j * 64 + i));
                // the thirds lie one after another in the mapping
                long q = te.get("text_model.encoder.layers.2.self_attn.q_proj.weight", 64, 64).data().address();
                assertEquals(q + 64 * 64 * 4, te.get("text_model.encoder.layers.2.self_attn.k_proj.weight", 64, 64).data().address());
                assertEquals(q + 2 * 64 * 64 * 4, te.get("text_model.encoder.layers.2.self_attn.v_proj.weight", 64, 64).data().address());
                assertTrue(te.get("text_model.encoder.layers.2.mlp.fc1.weight", 256, 64).data().isMapped());
            }
        }
        // A sidecar decides the prediction; --prediction overrides it.
        Files.writeString(dir.resolve("sd2-tiny.yaml"), "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n"
                + "    parameterization: \"v\"\n    linear_start: 0.00085\n");
        try (Checkpoint ck = Checkpoint.open(sd2)) {
            assertEquals(new Prediction(Prediction.V, "sd2-tiny.yaml (parameterization)"), ck.prediction());
        }
        try (Checkpoint ck = Checkpoint.open(sd2, Checkpoint.Options.DEFAULT.withPrediction("eps"))) {
            assertEquals(Prediction.EPSILON, ck.prediction().type());
        } finally {
            Files.delete(dir.resolve("sd2-tiny.yaml"));
        }
        Files.writeString(dir.resolve("sd2-tiny.json"), "{\"prediction_type\": \"v_prediction\"}");
        try (Checkpoint ck = Checkpoint.open(sd2)) {
            assertEquals(Prediction.V, ck.prediction().type());
        } finally {
            Files.delete(dir.resolve("sd2-tiny.json"));
        }
        runGolden(sd2, Map.of("unet-sd2-tiny/case-t981", "unet-sd2-tiny/config.json", "unet-sd2-tiny/case-t1", "unet-sd2-tiny/config.json",
                "vae-tiny/decode", "vae-tiny/config.json", "vae-tiny/encode", "vae-tiny/config.json"));
    }

    @Test
    void sdxlSingleFileIsDetectedAndReproducesTheGoldenUNet() throws Exception {
        try (Checkpoint ck = Checkpoint.open(sdxl)) {
            assertEquals(Checkpoint.Family.SDXL, ck.family());
            assertEquals("SDXL", ck.familyName());
            assertEquals(List.of("unet", "vae", "text_encoder", "text_encoder_2"), ck.components());
            assertEquals(0.13025f, ck.vaeConfig().scalingFactor());
            assertEquals(2048, ck.unetConfig().crossAttentionDim()[0]);
            try (CheckpointWeights te = ck.weights("text_encoder")) {
                assertEquals(32, te.get("text_model.encoder.layers.1.layer_norm2.bias", 32).numel());
            }
        }
        runGolden(sdxl, Map.of("unet-sdxl-tiny/case-t981", "unet-sdxl-tiny/config.json", "unet-sdxl-tiny/case-t1", "unet-sdxl-tiny/config.json"));
    }

    @Test
    void refinerAndInpaintingAreDetected() throws Exception {
        try (Checkpoint ck = Checkpoint.open(refiner)) {
            assertEquals("SDXL-refiner", ck.familyName());
            assertEquals(List.of("unet", "text_encoder_2"), ck.components());
            assertEquals(1280, ck.unetConfig().crossAttentionDim()[0]);
        }
        try (Checkpoint ck = Checkpoint.open(inpaint)) {
            assertEquals("SD1.x-inpaint", ck.familyName());
            assertTrue(ck.inpainting());
            assertEquals(9, ck.unetConfig().inChannels());
            assertEquals(768, ck.unetConfig().crossAttentionDim()[0]);
        }
        // The tiny config with 9 input channels loads it, and it runs on a 9-channel latent.
        Path config = dir.resolve("inpaint-config.json");
        Files.writeString(config, Files.readString(golden("unet-sd15-tiny/config.json")).replace("\"in_channels\": 4", "\"in_channels\": 9"));
        try (CpuBackend cpu = new CpuBackend(); Checkpoint ck = Checkpoint.open(inpaint, Checkpoint.Options.DEFAULT.withUnetConfig(config));
             UNet2DConditionModel unet = ck.loadUnet(cpu)) {
            Tensor out = unet.forward(Tensor.of(new float[8 * 8 * 9], Layout.NHWC, 1, 8, 8, 9), new float[] {500},
                    Tensor.of(new float[3 * 48], 1, 3, 48), null);
            for (float v : cpu.download(out).toFloatArray()) assertTrue(Float.isFinite(v));
        }
        // Without text encoders, SDXL is told from its three levels (the tiny cross-attention width decides nothing).
        Map<String, Tensor> t = new LinkedHashMap<>();
        CheckpointFixtures.putLdm(t, golden("unet-sdxl-tiny/diffusion_pytorch_model.safetensors"),
                LdmKeyMap.unet(UNet2DConditionConfig.read(golden("unet-sdxl-tiny/config.json"))));
        Path bare = dir.resolve("sdxl-unet-only.safetensors");
        SafeTensorsWriter.write(bare, t, null);
        try (Checkpoint ck = Checkpoint.open(bare)) {
            assertEquals("SDXL", ck.familyName());
            assertTrue(ck.evidence().contains("3 U-Net levels"), ck.evidence());
            assertFalse(ck.has("vae"));
        }
    }

    /** BF16 weights load (upcast per tensor on upload): the same output as the diffusers folder with the same rounded weights. */
    @Test
    void bf16AndF32WeightsLoad() throws Exception {
        Path roundedFolder = Files.createDirectories(dir.resolve("sd15-bf16-diffusers"));
        Files.copy(golden("unet-sd15-tiny/config.json"), roundedFolder.resolve("config.json"));
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(golden("unet-sd15-tiny/diffusion_pytorch_model.safetensors"))) {
            for (String n : f.names()) t.put(n, f.tensor(n).to(DType.BF16));
            SafeTensorsWriter.write(roundedFolder.resolve("diffusion_pytorch_model.safetensors"), t, null);
        }
        float[] s = new float[2 * 16 * 16 * 4];
        for (int i = 0; i < s.length; i++) s[i] = (float) Math.sin(i * 0.37);
        Tensor sample = Tensor.of(s, Layout.NHWC, 2, 16, 16, 4);
        Tensor ehs = Tensor.of(new float[2 * 7 * 48], 2, 7, 48);
        try (CpuBackend cpu = new CpuBackend();
             Checkpoint ck = Checkpoint.open(bf16, Checkpoint.Options.DEFAULT.withUnetConfig(golden("unet-sd15-tiny/config.json")));
             UNet2DConditionModel fromCheckpoint = ck.loadUnet(cpu);
             UNet2DConditionModel fromFolder = UNet2DConditionModel.load(roundedFolder, cpu)) {
            float[] a = cpu.download(fromCheckpoint.forward(sample, new float[] {981}, ehs, null)).toFloatArray();
            float[] b = cpu.download(fromFolder.forward(sample, new float[] {981}, ehs, null)).toFloatArray();
            // The CPU backend's sums may run in another order from call to call: equal up to rounding.
            assertTrue(maxAbs(a, b) < 1e-5, "bf16 checkpoint vs bf16 folder: " + maxAbs(a, b));
            try (UNet2DConditionModel f32 = UNet2DConditionModel.load(golden("unet-sd15-tiny"), cpu)) {
                float[] c = cpu.download(f32.forward(sample, new float[] {981}, ehs, null)).toFloatArray();
                assertTrue(maxAbs(a, c) > 1e-3, "bf16 weights must differ from the f32 ones: " + maxAbs(a, c));
            }
            try (CheckpointWeights w = ck.unetWeights()) {
                assertEquals(DType.BF16, w.get("conv_in.weight", 16, 4, 3, 3).dtype());
            }
        }
        // F32: the weights are views of the mapping, not copies.
        try (Checkpoint ck = Checkpoint.open(golden("checkpoint-ldm/checkpoint-ldm-tiny.safetensors"),
                Checkpoint.Options.DEFAULT.withUnetConfig(golden("unet-sd15-tiny/config.json")));
             CheckpointWeights w = ck.unetWeights()) {
            assertTrue(w.get("conv_in.weight", 16, 4, 3, 3).data().isMapped());
        }
    }

    private static double maxAbs(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void diffusersFolderLoads() throws Exception {
        try (Checkpoint ck = Checkpoint.open(folder)) {
            assertFalse(ck.isSingleFile());
            assertEquals("SD1.x", ck.familyName());
            assertEquals(new Prediction(Prediction.V, "scheduler/scheduler_config.json"), ck.prediction());
            assertEquals(List.of("unet", "vae", "text_encoder"), ck.components());
            Checkpoint.Report r = ck.report();
            for (Checkpoint.ComponentReport c : r.components()) {
                assertTrue(c.present(), c.name());
                assertEquals(List.of(), c.missing(), c.name());
                assertEquals(List.of(), c.wrongShape(), c.name());
                assertEquals(List.of(), c.unexpected(), c.name());
            }
            assertEquals(List.of(), r.unexpected());
        }
        // The runner's diffusers-folder path: UNet2DConditionModel.load and AutoencoderKL.load take the pipeline folder.
        runGolden(folder, Map.of("unet-sd15-tiny/case-t981", "", "vae-tiny/decode", ""));
    }

    @Test
    void infoWorksOnEveryFixture() throws Exception {
        String[][] expected = {
                {sd2.toString(), "checkpoint: SD2.x (single file", "prediction: epsilon (assumed"},
                {sdxl.toString(), "checkpoint: SDXL (single file", "prediction: epsilon (SDXL default)"},
                {refiner.toString(), "checkpoint: SDXL-refiner (single file", "text_encoder_2"},
                {inpaint.toString(), "checkpoint: SD1.x-inpaint (single file", "built-in sd15 unet with in_channels 9"},
                {bf16.toString(), "checkpoint: SD1.x (single file", "BF16"},
                {folder.toString(), "checkpoint: SD1.x (diffusers folder", "prediction: v_prediction (scheduler/scheduler_config.json)"}};
        for (String[] e : expected) {
            CliTest.Run r = CliTest.run("info", "--summary", e[0]);
            System.out.println(r.out());
            assertEquals(0, r.code(), e[0] + ": " + r.err());
            assertTrue(r.out().contains(e[1]) && r.out().contains(e[2]), e[0] + ":\n" + r.out());
        }
        // With the configs the tiny models were made with, nothing is missing, misshapen or unexpected
        // but the text encoder's layers the built-in config has and the fixture lacks.
        CliTest.Run r = CliTest.run("info", "--summary", "--prediction", "v", "--config", golden("unet-sd2-tiny/config.json").toString(),
                "--vae-config", golden("vae-tiny/config.json").toString(), sd2.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("prediction: v_prediction (given)"), r.out());
        assertFalse(r.out().contains("unet: "), r.out());
        assertFalse(r.out().contains("vae: "), r.out());
        assertTrue(r.out().contains("text_encoder: missing: 240"), r.out()); // layers 3..22 of 23, 12 tensors each
        assertTrue(r.out().contains("ignored:    1 CLIP's contrastive logit scale (training); 4 the training noise schedule"), r.out());
        CliTest.Run folderRun = CliTest.run("info", folder.toString());
        assertTrue(folderRun.out().contains("keys:       every key the configs need is there with its shape; no unexpected keys"),
                folderRun.out());
    }
}
