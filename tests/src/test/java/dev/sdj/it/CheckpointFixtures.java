package dev.sdj.it;

import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.checkpoint.LdmKeyMap;
import dev.sdj.io.checkpoint.LdmKeyMap.Source;
import dev.sdj.io.checkpoint.LdmKeyMap.View;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Single-file checkpoints written by the tests themselves from the tiny golden models, in the
 * namings real files use: the U-Net and VAE renamed by {@link LdmKeyMap} (whose names
 * key-map.json checks), OpenCLIP and HF CLIP text encoders with random values, DDPM buffers.
 */
final class CheckpointFixtures {
    private CheckpointFixtures() {}

    /** The tensors of a diffusers file under their LDM names; VAE attention weights become 1×1 convs [C,C,1,1], as LDM has them. */
    static void putLdm(Map<String, Tensor> out, Path diffusersFile, LdmKeyMap map) throws IOException {
        try (SafeTensorsFile f = SafeTensorsFile.open(diffusersFile)) {
            for (String name : f.names()) {
                Source s = map.toLdm(name);
                if (s == null) throw new IllegalStateException("no LDM name for " + name);
                Tensor t = copy(f.tensor(name));
                if (s.view() == View.SQUEEZE_1X1) t = t.reshape(t.dim(0), t.dim(1), 1, 1);
                out.put(s.key(), t);
            }
        }
    }

    /** A host copy (the file is closed after putLdm). */
    static Tensor copy(Tensor t) {
        Tensor c = Tensor.zeros(t.dtype(), Layout.PLAIN, t.shape());
        c.data().copyFrom(t.data());
        return c;
    }

    static Tensor random(SplittableRandom rnd, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextDouble() * 2 - 1);
        return Tensor.of(v, shape);
    }

    /**
     * An OpenCLIP text tower as SD2 and SDXL files hold it (width {@code w}, {@code layers} layers,
     * fused in_proj, text_projection [w, w] applied as x·P, logit_scale).
     */
    static void putOpenClip(Map<String, Tensor> out, String prefix, int w, int layers, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        out.put(prefix + "positional_embedding", random(rnd, 8, w));
        out.put(prefix + "token_embedding.weight", random(rnd, 16, w));
        for (int i = 0; i < layers; i++) {
            String b = prefix + "transformer.resblocks." + i + ".";
            out.put(b + "ln_1.weight", random(rnd, w));
            out.put(b + "ln_1.bias", random(rnd, w));
            out.put(b + "attn.in_proj_weight", random(rnd, 3 * w, w));
            out.put(b + "attn.in_proj_bias", random(rnd, 3 * w));
            out.put(b + "attn.out_proj.weight", random(rnd, w, w));
            out.put(b + "attn.out_proj.bias", random(rnd, w));
            out.put(b + "ln_2.weight", random(rnd, w));
            out.put(b + "ln_2.bias", random(rnd, w));
            out.put(b + "mlp.c_fc.weight", random(rnd, 4 * w, w));
            out.put(b + "mlp.c_fc.bias", random(rnd, 4 * w));
            out.put(b + "mlp.c_proj.weight", random(rnd, w, 4 * w));
            out.put(b + "mlp.c_proj.bias", random(rnd, w));
        }
        out.put(prefix + "ln_final.weight", random(rnd, w));
        out.put(prefix + "ln_final.bias", random(rnd, w));
        out.put(prefix + "text_projection", random(rnd, w, w + 8));
        out.put(prefix + "logit_scale", Tensor.of(new float[] {4.6f}));
    }

    /** An HF-named CLIP text encoder (SD1's cond_stage_model.transformer., SDXL's conditioner.embedders.0.transformer.). */
    static void putClip(Map<String, Tensor> out, String prefix, int w, int layers, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (String n : LdmKeyMap.clipTextEncoderNames(layers, false)) {
            int[] shape = n.contains("embedding") ? new int[] {n.contains("token") ? 16 : 8, w}
                    : n.contains("fc1.weight") ? new int[] {4 * w, w} : n.contains("fc1.bias") ? new int[] {4 * w}
                    : n.contains("fc2.weight") ? new int[] {w, 4 * w} : n.endsWith(".weight") && n.contains("proj") ? new int[] {w, w}
                    : new int[] {w};
            out.put(prefix + n, random(rnd, shape));
        }
        Tensor ids = Tensor.zeros(DType.I64, Layout.PLAIN, 1, 8);
        for (int i = 0; i < 8; i++) ids.setFloat(i, i);
        out.put(prefix + "text_model.embeddings.position_ids", ids); // the buffer old transformers saved
    }

    /** The DDPM schedule buffers LDM saves at the top level. */
    static void putDdpmBuffers(Map<String, Tensor> out) {
        for (String n : List.of("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod")) {
            out.put(n, Tensor.of(new float[1000], 1000));
        }
    }
}
