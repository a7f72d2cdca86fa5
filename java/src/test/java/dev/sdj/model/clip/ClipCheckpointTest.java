package dev.sdj.model.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.SafeTensorsWriter;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.io.checkpoint.LdmKeyMap;
import dev.sdj.model.Weights;
import dev.sdj.model.WeightsException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tiny golden encoder written into single-file checkpoints the way SD1 (HF-named CLIP under
 * cond_stage_model.transformer.) and SD2 (OpenCLIP under cond_stage_model.model.: fused in_proj,
 * text_projection applied as x·P, one layer more than the config, logit_scale) hold text encoders,
 * loaded through {@link Checkpoint#weights} and compared with the golden outputs.
 */
class ClipCheckpointTest {
    private static final Path TINY = ClipTextConfigTest.TINY;

    @Test
    void openClipNamedSd2File(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("sd2-tiny.safetensors");
        Map<String, Tensor> out = new LinkedHashMap<>();
        putUnetStub(out);
        try (SafeTensorsFile m = SafeTensorsFile.open(TINY.resolve("model.safetensors"));
             SafeTensorsFile p = SafeTensorsFile.open(TINY.resolve("text_projection.safetensors"))) {
            String pre = "cond_stage_model.model.";
            out.put(pre + "token_embedding.weight", copy(m.tensor("text_model.embeddings.token_embedding.weight")));
            out.put(pre + "positional_embedding", copy(m.tensor("text_model.embeddings.position_embedding.weight")));
            out.put(pre + "ln_final.weight", copy(m.tensor("text_model.final_layer_norm.weight")));
            out.put(pre + "ln_final.bias", copy(m.tensor("text_model.final_layer_norm.bias")));
            for (int i = 0; i < 3; i++) { // layer 2 is past the config's 2 layers: SD2's unused 24th
                int src = Math.min(i, 1);
                String hf = "text_model.encoder.layers." + src + ".", oc = pre + "transformer.resblocks." + i + ".";
                for (String wb : new String[] {"weight", "bias"}) {
                    out.put(oc + "attn.in_proj_" + wb, cat(m.tensor(hf + "self_attn.q_proj." + wb), m.tensor(hf + "self_attn.k_proj." + wb),
                            m.tensor(hf + "self_attn.v_proj." + wb)));
                    out.put(oc + "attn.out_proj." + wb, copy(m.tensor(hf + "self_attn.out_proj." + wb)));
                    out.put(oc + "ln_1." + wb, copy(m.tensor(hf + "layer_norm1." + wb)));
                    out.put(oc + "ln_2." + wb, copy(m.tensor(hf + "layer_norm2." + wb)));
                    out.put(oc + "mlp.c_fc." + wb, copy(m.tensor(hf + "mlp.fc1." + wb)));
                    out.put(oc + "mlp.c_proj." + wb, copy(m.tensor(hf + "mlp.fc2." + wb)));
                }
            }
            out.put(pre + "text_projection", transpose(p.tensor("text_projection.weight")));
            out.put(pre + "logit_scale", Tensor.of(new float[] {4.6f}, 1));
        }
        SafeTensorsWriter.write(file, out, null);

        CLIPTextConfig tiny = CLIPTextConfig.read(TINY.resolve("config.json"));
        try (Backend cpu = new CpuBackend(); Checkpoint cp = Checkpoint.open(file);
             SafeTensorsFile golden = SafeTensorsFile.open(TINY.resolve("outputs.safetensors"))) {
            assertEquals(Checkpoint.Family.SD2, cp.family());
            int[][] ids = CLIPTextModel.ids(golden.tensor("input_ids"));
            try (CLIPTextModel te = CLIPTextModel.load(cp, "text_encoder", tiny, cpu)) {
                CLIPTextModel.Output o = te.forward(ids);
                ClipTextModelTest.assertClose(golden.tensor("last_hidden_state"), o.lastHiddenState(), 1e-4);
                ClipTextModelTest.assertClose(golden.tensor("hidden_states.1"), o.penultimate(), 1e-4);
            }
            try (CLIPTextModel te = CLIPTextModel.load(cp, "text_encoder", tiny.withProjection(true), cpu)) {
                ClipTextModelTest.assertClose(golden.tensor("text_embeds"), te.forward(ids).textEmbeds(), 1e-4);
            }
            // Without a config the family's built-in one (OpenCLIP ViT-H, 1024 wide) is used: the tiny tensors do not fit it.
            WeightsException e = assertThrows(WeightsException.class, () -> CLIPTextModel.load(cp, "text_encoder", cpu));
            assertTrue(e.getMessage().contains("1024"), e.getMessage());
        }
    }

    @Test
    void hfNamedSd1FileAndAnUnexpectedKey(@TempDir Path dir) throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        putUnetStub(out);
        String pre = "cond_stage_model.transformer.";
        try (SafeTensorsFile m = SafeTensorsFile.open(TINY.resolve("model.safetensors"))) {
            for (String n : m.names()) out.put(pre + n, copy(m.tensor(n)));
        }
        Tensor positions = Tensor.of(new float[77], 1, 77);
        out.put(pre + "text_model.embeddings.position_ids", positions); // the buffer old transformers saved
        Path file = dir.resolve("sd1-tiny.safetensors");
        SafeTensorsWriter.write(file, out, null);

        CLIPTextConfig tiny = CLIPTextConfig.read(TINY.resolve("config.json"));
        try (Backend cpu = new CpuBackend(); Checkpoint cp = Checkpoint.open(file);
             SafeTensorsFile golden = SafeTensorsFile.open(TINY.resolve("outputs.safetensors"));
             CLIPTextModel te = CLIPTextModel.load(cp, "text_encoder", tiny, cpu)) {
            assertEquals(Checkpoint.Family.SD1, cp.family());
            CLIPTextModel.Output o = te.forward(golden.tensor("input_ids"));
            ClipTextModelTest.assertClose(golden.tensor("last_hidden_state"), o.lastHiddenState(), 1e-4);
            ClipTextModelTest.assertClose(golden.tensor("pooled_output"), o.pooledOutput(), 1e-4);
        }

        out.put(pre + "text_model.encoder.layers.0.mlp.fc3.weight", Tensor.of(new float[4], 2, 2));
        Path bad = dir.resolve("sd1-extra.safetensors");
        SafeTensorsWriter.write(bad, out, null);
        try (Backend cpu = new CpuBackend(); Checkpoint cp = Checkpoint.open(bad)) {
            WeightsException e = assertThrows(WeightsException.class, () -> CLIPTextModel.load(cp, "text_encoder", tiny, cpu));
            assertTrue(e.getMessage().contains("mlp.fc3.weight"), e.getMessage());
        }
    }

    @Test
    void keysLeftOnPurpose() {
        CLIPTextConfig vitH = CLIPTextConfig.openClipVitH();
        assertTrue(CLIPTextModel.leftOnPurpose("cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight", vitH));
        assertTrue(CLIPTextModel.leftOnPurpose("cond_stage_model.model.text_projection", vitH));
        assertTrue(CLIPTextModel.leftOnPurpose("cond_stage_model.model.logit_scale", vitH));
        assertTrue(CLIPTextModel.leftOnPurpose("text_model.encoder.layers.23.mlp.fc1.weight", vitH));
        assertTrue(!CLIPTextModel.leftOnPurpose("cond_stage_model.model.transformer.resblocks.22.attn.in_proj_weight", vitH));
        assertTrue(!CLIPTextModel.leftOnPurpose("conditioner.embedders.1.model.text_projection", CLIPTextConfig.openClipBigG()));
    }

    /** The one U-Net tensor family detection needs (4 input channels). */
    private static void putUnetStub(Map<String, Tensor> out) {
        out.put(LdmKeyMap.UNET_PREFIX + "input_blocks.0.0.weight", Tensor.of(new float[8 * 4 * 9], 8, 4, 3, 3));
    }

    /** {@code main}, with text_projection.* from {@code projection} (which the caller closes). */
    static Weights merged(Weights main, SafeTensorsFile projection) {
        return new Weights() {
            @Override
            public Tensor get(String name, int... shape) {
                if (!name.startsWith("text_projection.")) return main.get(name, shape);
                try {
                    Tensor t = projection.tensor(name);
                    assertEquals(java.util.Arrays.toString(shape), java.util.Arrays.toString(t.shape()));
                    return t;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public String source() {
                return main.source();
            }

            @Override
            public void close() {
                main.close();
            }
        };
    }

    static Tensor copy(Tensor t) {
        return Tensor.of(t.toFloatArray(), Layout.PLAIN, t.shape());
    }

    private static Tensor cat(Tensor... parts) {
        int rows = 0;
        for (Tensor p : parts) rows += p.dim(0);
        int[] shape = parts[0].shape();
        shape[0] = rows;
        float[] all = new float[(int) Tensor.numel(shape)];
        int at = 0;
        for (Tensor p : parts) {
            float[] v = p.toFloatArray();
            System.arraycopy(v, 0, all, at, v.length);
            at += v.length;
        }
        return Tensor.of(all, shape);
    }

    private static Tensor transpose(Tensor t) {
        int r = t.dim(0), c = t.dim(1);
        float[] v = t.toFloatArray(), o = new float[v.length];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) o[j * r + i] = v[i * c + j];
        return Tensor.of(o, c, r);
    }
}
