package dev.sdj.pipeline;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.io.checkpoint.Checkpoint.Family;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.clip.CLIPTextModel;
import dev.sdj.text.ClipTokenizer;
import dev.sdj.text.PromptChunks;
import dev.sdj.text.PromptWeighting;

import java.util.ArrayList;
import java.util.List;

/**
 * Prompt and negative prompt → the U-Net's conditioning, per family:
 * <ul>
 *   <li>SD1.x: CLIP ViT-L's last hidden state (clip skip n ≥ 2: final_layer_norm of hidden_states[−n]),
 *       padded with EOS;</li>
 *   <li>SD2.x: OpenCLIP ViT-H (diffusers' 23-layer text_encoder) the same way, padded with 0;</li>
 *   <li>SDXL: hidden_states[−2] of both encoders concatenated to 2048 channels; the pooled, projected output
 *       of text_encoder_2 and the size/crop ids (original size, crop 0,0, target size) as added conditions;</li>
 *   <li>SDXL refiner: text_encoder_2 only, ids (original size, crop, aesthetic score 6 / 2.5 for the negative).</li>
 * </ul>
 * Two prompt syntaxes: {@link Syntax#A1111} (weights, BREAK, any length in chunks of 75 tokens, see
 * {@link PromptWeighting}) and {@link Syntax#DIFFUSERS} (the text as written, truncated to 75 tokens, as
 * diffusers' pipelines do). With A1111 syntax, cond and uncond are padded with empty chunks to the same length.
 */
public final class TextConditioner {

    public enum Syntax { A1111, DIFFUSERS }

    private final Family family;
    private final ClipTokenizer tokenizer;
    private final CLIPTextModel textEncoder;   // null for the SDXL refiner
    private final CLIPTextModel textEncoder2;  // SDXL only
    private final Backend backend;

    public TextConditioner(Family family, ClipTokenizer tokenizer, CLIPTextModel textEncoder, CLIPTextModel textEncoder2,
                           Backend backend) {
        this.family = family;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.textEncoder2 = textEncoder2;
        this.backend = backend;
        boolean xl = family == Family.SDXL || family == Family.SDXL_REFINER;
        if (family != Family.SDXL_REFINER && textEncoder == null) throw new IllegalArgumentException(family.label + " needs text_encoder");
        if (xl && textEncoder2 == null) throw new IllegalArgumentException(family.label + " needs text_encoder_2");
    }

    /** The encoded prompt: context (1, 77·k, D), the pooled embedding (SDXL) and the first chunk's ids (for checks). */
    public record Encoded(Tensor context, Tensor pooled, int[] firstIds) {}

    /** The conditioning of one prompt pair for a height × width image. */
    public Conditioning encode(String prompt, String negativePrompt, Syntax syntax, int clipSkip, int height, int width) {
        List<PromptChunks.Chunk> c1 = chunks(prompt, syntax, padOf(true)), u1 = chunks(negativePrompt, syntax, padOf(true));
        List<PromptChunks.Chunk> c2 = secondChunks(prompt, syntax), u2 = secondChunks(negativePrompt, syntax);
        int k = Math.max(c1.size(), u1.size());
        Encoded cond = encode(pad(c1, k, true), pad(c2, k, false), clipSkip);
        Encoded uncond = encode(pad(u1, k, true), pad(u2, k, false), clipSkip);
        if (twoEncoders()) {
            return new Conditioning(cond.context(), uncond.context(), added(cond.pooled(), height, width, 6f),
                    added(uncond.pooled(), height, width, 2.5f));
        }
        return Conditioning.of(cond.context(), uncond.context());
    }

    /** One prompt's context with diffusers syntax: what the pipeline golden cases compare. */
    public Encoded encodeOne(String prompt, Syntax syntax, int clipSkip) {
        return encode(chunks(prompt, syntax, padOf(true)), secondChunks(prompt, syntax), clipSkip);
    }

    private boolean twoEncoders() {
        return family == Family.SDXL || family == Family.SDXL_REFINER;
    }

    /** text_encoder_2's chunks (OpenCLIP pads with 0), SDXL only; null for the one-encoder families. */
    private List<PromptChunks.Chunk> secondChunks(String prompt, Syntax syntax) {
        return twoEncoders() ? chunks(prompt, syntax, padOf(false)) : null;
    }

    private int padOf(boolean first) {
        // SD1's CLIP and SDXL's text_encoder pad with EOS; OpenCLIP (SD2, SDXL text_encoder_2) with 0.
        if (family == Family.SD2) return 0;
        return first ? ClipTokenizer.EOS : 0;
    }

    private List<PromptChunks.Chunk> chunks(String prompt, Syntax syntax, int pad) {
        String text = prompt == null ? "" : prompt;
        if (syntax == Syntax.A1111) return PromptChunks.of(text, tokenizer::bpe, pad);
        int[] ids = tokenizer.encode(text, ClipTokenizer.MAX_LENGTH, pad);
        float[] ones = new float[ids.length];
        java.util.Arrays.fill(ones, 1f);
        return List.of(new PromptChunks.Chunk(ids, ones));
    }

    private List<PromptChunks.Chunk> pad(List<PromptChunks.Chunk> chunks, int k, boolean first) {
        if (chunks == null || chunks.size() >= k) return chunks;
        List<PromptChunks.Chunk> out = new ArrayList<>(chunks);
        List<PromptChunks.Chunk> empty = PromptChunks.of("", tokenizer::bpe, padOf(first));
        while (out.size() < k) out.add(empty.getFirst());
        return out;
    }

    private Encoded encode(List<PromptChunks.Chunk> chunks1, List<PromptChunks.Chunk> chunks2, int clipSkip) {
        List<Tensor> parts = new ArrayList<>();
        Tensor pooled = null;
        for (int i = 0; i < chunks1.size(); i++) {
            Tensor part;
            switch (family) {
                case SD1, SD2 -> {
                    CLIPTextModel.Output o = textEncoder.forward(new int[][] {chunks1.get(i).ids()});
                    part = PromptWeighting.emphasize(backend, textEncoder.clipSkip(o, clipSkip), chunks1.get(i).weights());
                }
                case SDXL -> {
                    CLIPTextModel.Output o1 = textEncoder.forward(new int[][] {chunks1.get(i).ids()});
                    CLIPTextModel.Output o2 = textEncoder2.forward(new int[][] {chunks2.get(i).ids()});
                    Tensor h1 = PromptWeighting.emphasize(backend, o1.hiddenState(clipSkip + 1), chunks1.get(i).weights());
                    Tensor h2 = PromptWeighting.emphasize(backend, o2.hiddenState(clipSkip + 1), chunks2.get(i).weights());
                    part = backend.concatChannels(h1, h2);
                    if (i == 0) pooled = o2.textEmbeds();
                }
                case SDXL_REFINER -> {
                    CLIPTextModel.Output o2 = textEncoder2.forward(new int[][] {chunks2.get(i).ids()});
                    part = PromptWeighting.emphasize(backend, o2.hiddenState(clipSkip + 1), chunks2.get(i).weights());
                    if (i == 0) pooled = o2.textEmbeds();
                }
                default -> throw new IllegalStateException("family " + family);
            }
            parts.add(part);
        }
        return new Encoded(PromptWeighting.concat(backend, parts), pooled, chunks1.getFirst().ids());
    }

    /** SDXL's added conditions: pooled (1, 1280) and the ids (orig h, w, crop 0, 0, target h, w) or the refiner's. */
    private AddedConditions added(Tensor pooled, int height, int width, float aesthetic) {
        float[] ids = family == Family.SDXL_REFINER
                ? new float[] {height, width, 0, 0, aesthetic}
                : new float[] {height, width, 0, 0, height, width};
        return new AddedConditions(pooled, backend.upload(Tensor.of(ids, Layout.PLAIN, 1, ids.length)));
    }
}
