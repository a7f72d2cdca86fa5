package dev.sdj.text;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * AUTOMATIC1111's prompt weighting ("emphasis"), applied to the text encoder's hidden states of each
 * chunk, and the concatenation of the chunks. Together with {@link PromptParser} and
 * {@link PromptChunks} this is the webui's long-prompt conditioning
 * ({@code FrozenCLIPEmbedderWithCustomWordsBase.forward}); the text encoder runs in between, once
 * per chunk.
 *
 * <h2>Prompt syntax ({@link PromptParser})</h2>
 * <ul>
 *   <li>{@code (text)} multiplies the weight of {@code text} by 1.1; {@code [text]} by 1/1.1.</li>
 *   <li>{@code (text:w)} multiplies it by {@code w} instead: a decimal number with optional sign
 *       ({@code 1.3}, {@code .5}, {@code -1}, {@code +0.8}), whitespace allowed around it
 *       ({@code (text : 1.3 )}); no exponent ({@code (a:1e2)} is the text "a:1e2" at 1.1). A number
 *       such as {@code 1.2.3} is an error (A1111 raises ValueError).</li>
 *   <li>Brackets nest and their factors multiply, in the order the brackets close:
 *       {@code ((a))} is 1.1·1.1 = 1.2100000000000002, {@code ((a:1.3))} is 1.3·1.1.
 *       {@code (x)} and {@code (x:w)} both close a round bracket; a square bracket never takes a
 *       weight.</li>
 *   <li>{@code \(}, {@code \)}, {@code \[}, {@code \]}, {@code \\} are the literal characters; a
 *       backslash before anything else is dropped.</li>
 *   <li>Unbalanced brackets: a closing bracket with no open one is plain text; a bracket left open
 *       applies its factor (1.1 or 1/1.1) to everything after it, to the end of the prompt.</li>
 *   <li>{@code BREAK} (upper case, a whole word, with the whitespace around it) ends the current
 *       chunk. Inside brackets that change its weight it is an ordinary word (tokenized as "BREAK"):
 *       A1111 recognises the marker by its weight −1.</li>
 *   <li>Adjacent pieces of equal weight are merged; an empty prompt is {@code ("", 1.0)}. A1111's
 *       other prompt syntax ({@code [a:b:0.5]} prompt editing, {@code [a|b]} alternation,
 *       {@code AND} composition, {@code <lora:…>}) is not handled here: those characters are
 *       read by the attention syntax as A1111's attention parser reads them.</li>
 * </ul>
 *
 * <h2>Chunks ({@link PromptChunks})</h2>
 * Each weighted piece is tokenized (CLIP BPE, no truncation) and every token carries its piece's
 * weight. The tokens fill chunks of 75; each chunk is encoded as its own 77-token sequence
 * {@code [BOS] + 75 + [EOS]}, shorter ones padded (EOS ids for SD1's CLIP, 0 for OpenCLIP after the
 * first EOS), with weight 1.0 at BOS, EOS and padding. BREAK pads the current chunk and starts a new
 * one. Comma backtrack: when a chunk overflows and its last comma is within its last 20 tokens,
 * the chunk ends after that comma and the words after it move to the next chunk, so that a phrase is
 * not cut in two. The empty prompt is one chunk {@code [BOS, EOS, pad…]}.
 *
 * <h2>Emphasis ({@link #emphasize}, A1111's default "Original" mode)</h2>
 * For each chunk's hidden states z (1, 77, D) and its weights w (77):
 * <pre>
 * original_mean = mean(z)               over all 77·D values
 * z             = z · w[:, None]        each token's row scaled by its weight
 * new_mean      = mean(z)
 * z             = z · (original_mean / new_mean)
 * </pre>
 * The last step restores the chunk's mean, so weights act relative to each other: raising one
 * token's weight also scales every other row down slightly. A chunk whose weights are all 1 is
 * unchanged. A1111's "No norm" mode ({@link Mode#NO_NORM}) skips the mean restoration. The conditioning is
 * the chunks' emphasized hidden states concatenated along the sequence, (1, 77·k, D)
 * ({@link #concat}); classifier-free guidance needs cond and uncond with the same k, which
 * A1111 reaches by padding the shorter one with empty chunks (that is the caller's matter).
 * For SDXL the pooled text embedding comes from the first chunk, without emphasis.
 *
 * <h2>Differences from diffusers</h2>
 * diffusers' pipelines encode {@code [BOS] + the first 75 tokens + [EOS]}, padded to 77: a longer
 * prompt is truncated (with a warning), and {@code ( ) [ ] :w BREAK} are plain characters that
 * are tokenized as written. Here no token is dropped, the syntax sets weights, and the hidden
 * states are changed by the weights. A prompt of at most 75 tokens without syntax gives diffusers'
 * ids, and its hidden states pass the emphasis unchanged.
 *
 * <h2>Precision and how it runs</h2>
 * The emphasis runs on the host: the chunk's hidden states are downloaded once (77·D floats), the
 * means accumulated in double, the products rounded to float as torch's fp32 ops round them, and
 * the result uploaded back. A1111 computes in the model's dtype (often fp16 on a GPU); sdj computes
 * in fp32 and the backend rounds to its dtype on upload. If new_mean is 0 the result is non-finite,
 * as in A1111.
 */
public final class PromptWeighting {
    private PromptWeighting() {}

    /** How weights change the hidden states: A1111's {@code opts.emphasis} modes that use them. */
    public enum Mode {
        /** "Original", A1111's default: scale each token's row, then restore the mean. */
        ORIGINAL,
        /** "No norm": scale each token's row only. */
        NO_NORM
    }

    /**
     * A1111's emphasis on host values: {@code z} row-major (B, T, D) with {@code T = weights.length},
     * the same weights for every batch row. Returns a new array; {@code z} is not changed. The mean
     * is taken over all B·T·D values, as A1111 takes it over its chunk batch.
     */
    public static float[] emphasize(float[] z, int batch, int dim, float[] weights, Mode mode) {
        int tokens = weights.length;
        if (batch < 1 || dim < 1 || (long) batch * tokens * dim != z.length) {
            throw new IllegalArgumentException("z holds " + z.length + " values, not (" + batch + ", " + tokens + ", " + dim + ")");
        }
        float[] out = new float[z.length];
        for (int b = 0, i = 0; b < batch; b++) {
            for (int t = 0; t < tokens; t++) {
                float w = weights[t];
                for (int d = 0; d < dim; d++, i++) out[i] = z[i] * w;
            }
        }
        if (mode == Mode.NO_NORM) return out;
        // torch: original_mean and new_mean are float32 scalars, their ratio a float32 division.
        float originalMean = (float) mean(z);
        float newMean = (float) mean(out);
        float ratio = originalMean / newMean;
        for (int i = 0; i < out.length; i++) out[i] *= ratio;
        return out;
    }

    /** {@link #emphasize(float[], int, int, float[], Mode)} in "Original" mode. */
    public static float[] emphasize(float[] z, int batch, int dim, float[] weights) {
        return emphasize(z, batch, dim, weights, Mode.ORIGINAL);
    }

    /**
     * A1111's emphasis on a host tensor z (B, 77, D) of any float dtype; returns a new host fp32
     * tensor of the same shape.
     */
    public static Tensor emphasize(Tensor z, float[] weights, Mode mode) {
        int[] s = z.shape();
        if (s.length != 3 || s[1] != weights.length) {
            throw new IllegalArgumentException("emphasis: z must be (B, " + weights.length + ", D), is " + Arrays.toString(s));
        }
        return Tensor.of(emphasize(z.toFloatArray(), s[0], s[2], weights, mode), s);
    }

    /** {@link #emphasize(Tensor, float[], Mode)} in "Original" mode. */
    public static Tensor emphasize(Tensor z, float[] weights) {
        return emphasize(z, weights, Mode.ORIGINAL);
    }

    /**
     * A1111's emphasis on a backend tensor z (B, 77, D): downloaded once, computed on the host (the
     * two means need the values anyway; 77·D floats), uploaded back in the backend's dtype.
     */
    public static Tensor emphasize(Backend backend, Tensor z, float[] weights, Mode mode) {
        return backend.upload(emphasize(backend.download(z), weights, mode));
    }

    /** {@link #emphasize(Backend, Tensor, float[], Mode)} in "Original" mode. */
    public static Tensor emphasize(Backend backend, Tensor z, float[] weights) {
        return emphasize(backend, z, weights, Mode.ORIGINAL);
    }

    /**
     * Host tensors (B, T_i, D) concatenated along dim 1 into a new host fp32 tensor (B, ΣT_i, D)
     * ({@code torch.hstack} of A1111's chunk outputs).
     */
    public static Tensor concat(List<Tensor> parts) {
        if (parts.isEmpty()) throw new IllegalArgumentException("concat: no tensors");
        int[] first = parts.getFirst().shape();
        if (first.length != 3) throw new IllegalArgumentException("concat: tensors must be (B, T, D), got " + Arrays.toString(first));
        int batch = first[0], dim = first[2], total = 0;
        for (Tensor p : parts) {
            int[] s = p.shape();
            if (s.length != 3 || s[0] != batch || s[2] != dim) {
                throw new IllegalArgumentException("concat: shapes " + Arrays.toString(first) + " and " + Arrays.toString(s)
                        + " differ outside dim 1");
            }
            total += s[1];
        }
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(batch, total), dim)];
        int offset = 0; // in tokens
        for (Tensor p : parts) {
            float[] v = p.toFloatArray();
            int len = p.dim(1);
            for (int b = 0; b < batch; b++) {
                System.arraycopy(v, b * len * dim, out, (b * total + offset) * dim, len * dim);
            }
            offset += len;
        }
        return Tensor.of(out, batch, total, dim);
    }

    /**
     * Backend tensors (B, T_i, D) concatenated along dim 1 (the Backend has no such op): downloaded,
     * joined on the host and uploaded as one tensor. A single tensor is returned as it is.
     */
    public static Tensor concat(Backend backend, List<Tensor> parts) {
        if (parts.size() == 1) return parts.getFirst();
        List<Tensor> host = new ArrayList<>(parts.size());
        for (Tensor p : parts) host.add(backend.download(p));
        return backend.upload(concat(host));
    }

    /**
     * The whole conditioning of one prompt: each chunk's hidden states (B, 77, D), as the text
     * encoder produced them on {@code backend}, emphasized with that chunk's weights, then concatenated
     * into (B, 77·k, D); one download per chunk and one upload.
     */
    public static Tensor apply(Backend backend, List<Tensor> hiddenStates, List<PromptChunks.Chunk> chunks, Mode mode) {
        if (hiddenStates.size() != chunks.size() || chunks.isEmpty()) {
            throw new IllegalArgumentException("apply: " + hiddenStates.size() + " hidden states for " + chunks.size() + " chunks");
        }
        List<Tensor> host = new ArrayList<>(chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            host.add(emphasize(backend.download(hiddenStates.get(i)), chunks.get(i).weights(), mode));
        }
        return backend.upload(host.size() == 1 ? host.getFirst() : concat(host));
    }

    /** {@link #apply(Backend, List, List, Mode)} in "Original" mode. */
    public static Tensor apply(Backend backend, List<Tensor> hiddenStates, List<PromptChunks.Chunk> chunks) {
        return apply(backend, hiddenStates, chunks, Mode.ORIGINAL);
    }

    private static double mean(float[] v) {
        double sum = 0;
        for (float x : v) sum += x;
        return sum / v.length;
    }
}
