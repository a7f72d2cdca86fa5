package dev.sdj.text;

import dev.sdj.text.PromptParser.Fragment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * AUTOMATIC1111's cutting of a parsed prompt into CLIP-sized chunks: {@code tokenize_line} of
 * {@code FrozenCLIPEmbedderWithCustomWordsBase} (webui {@code modules/sd_hijack_clip.py}), plus the
 * pad-id replacement of its {@code process_tokens}. Semantics (see also {@link PromptWeighting}):
 *
 * <ul>
 *   <li>Each fragment of {@link PromptParser#parse} is tokenized on its own (BPE ids without BOS/EOS,
 *       not truncated) and each of its tokens gets the fragment's weight.</li>
 *   <li>Tokens fill chunks of 75. A full chunk becomes {@code [BOS] + 75 tokens + [EOS]} = 77 ids, the
 *       weights {@code [1.0] + 75 weights + [1.0]}. A shorter chunk is filled up to 75 with EOS ids
 *       at weight 1.0 before BOS/EOS are added; then every id after the first EOS is replaced by the
 *       pad id ({@link Config#pad()}): EOS for SD1's CLIP (nothing changes), 0 for OpenCLIP (SD2, the
 *       second SDXL encoder).</li>
 *   <li>A {@code ("BREAK", -1)} fragment closes the current chunk (padding it), even an empty one:
 *       "BREAK a" gives an all-padding chunk and then the chunk of "a".</li>
 *   <li>Comma backtrack ({@code opts.comma_padding_backtrack}, 20 by default): when a token (not a
 *       comma) arrives at a full chunk and the chunk's last comma is at most 20 tokens from its end,
 *       the chunk is cut just after that comma, padded, and the tokens after the comma start the next
 *       chunk. The last comma is forgotten whenever a chunk is closed, so a comma that itself opens a
 *       new chunk does not count.</li>
 *   <li>After the last fragment the current chunk is closed if it holds a token, or if there is no
 *       chunk yet: the empty prompt gives one chunk {@code [BOS, EOS, pad, …]}, and "a BREAK" gives
 *       only the chunk of "a".</li>
 * </ul>
 *
 * <p>Weights are stored as float, as A1111's {@code torch.asarray(multipliers)} holds them. Not
 * replicated: textual-inversion embeddings (A1111 looks them up at each position; sdj has none).
 */
public final class PromptChunks {
    private PromptChunks() {}

    /** Prompt tokens per chunk (A1111's {@code chunk_length}). */
    public static final int CHUNK_LENGTH = 75;
    /** Ids per chunk: BOS + 75 tokens + EOS, CLIP's context length. */
    public static final int CONTEXT_LENGTH = CHUNK_LENGTH + 2;
    /** CLIP's {@code <|startoftext|>}. */
    public static final int BOS = 49406;
    /** CLIP's {@code <|endoftext|>}, also SD1's pad id. */
    public static final int EOS = 49407;
    /** The id of {@code ",</w>"} in CLIP's vocabulary (both OpenAI CLIP and OpenCLIP). */
    public static final int COMMA = 267;
    /** A1111's default {@code opts.comma_padding_backtrack}; 0 turns the backtrack off. */
    public static final int COMMA_BACKTRACK = 20;

    /**
     * The ids the chunker uses. {@code pad}: the id after the first EOS (EOS for SD1 and SDXL's first
     * encoder, 0 for OpenCLIP: SD2 and SDXL's second encoder); {@code comma}: the token the backtrack
     * looks for; {@code commaBacktrack}: how far back a comma may be (0: never backtrack).
     */
    public record Config(int bos, int eos, int pad, int comma, int commaBacktrack) {
        /** SD1.x and SDXL's first text encoder (OpenAI CLIP ViT-L): pads with EOS. */
        public static final Config SD1 = new Config(BOS, EOS, EOS, COMMA, COMMA_BACKTRACK);
        /** SD2.x and SDXL's second text encoder (OpenCLIP): pads with 0. */
        public static final Config OPEN_CLIP = new Config(BOS, EOS, 0, COMMA, COMMA_BACKTRACK);

        public Config {
            if (commaBacktrack < 0) throw new IllegalArgumentException("commaBacktrack must be ≥ 0, is " + commaBacktrack);
        }

        /** The same ids with another pad id. */
        public Config withPad(int padId) {
            return new Config(bos, eos, padId, comma, commaBacktrack);
        }
    }

    /** One chunk: 77 ids ({@code [BOS] + 75 + [EOS]}, padded) and the weight of each position. */
    public record Chunk(int[] ids, float[] weights) {
        public Chunk {
            if (ids.length != CONTEXT_LENGTH || weights.length != CONTEXT_LENGTH) {
                throw new IllegalArgumentException("a chunk has " + CONTEXT_LENGTH + " ids and weights, got "
                        + ids.length + " and " + weights.length);
            }
        }

        /** True when every weight is 1 (emphasis would leave the hidden states as they are). */
        public boolean unweighted() {
            for (float w : weights) if (w != 1f) return false;
            return true;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Chunk c && Arrays.equals(ids, c.ids) && Arrays.equals(weights, c.weights);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(ids) + Arrays.hashCode(weights);
        }

        @Override
        public String toString() {
            return "Chunk[ids=" + Arrays.toString(ids) + ", weights=" + Arrays.toString(weights) + "]";
        }
    }

    /** Parses {@code prompt} ({@link PromptParser#parse}) and chunks it with {@code config}. */
    public static List<Chunk> of(String prompt, Function<String, int[]> tokenizer, Config config) {
        return of(PromptParser.parse(prompt), tokenizer, config);
    }

    /** Parses and chunks {@code prompt} with CLIP's ids and the given pad id (49407 for SD1, 0 for OpenCLIP). */
    public static List<Chunk> of(String prompt, Function<String, int[]> tokenizer, int padId) {
        return of(prompt, tokenizer, Config.SD1.withPad(padId));
    }

    /**
     * {@code tokenize_line} on already parsed fragments. {@code tokenizer} gives a text's BPE ids
     * without BOS/EOS and without truncation; it is not called for BREAK markers.
     */
    public static List<Chunk> of(List<Fragment> parsed, Function<String, int[]> tokenizer, Config config) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        Builder b = new Builder(config);
        for (Fragment f : parsed) {
            if (f.isBreak()) {
                b.nextChunk(false);
                continue;
            }
            int[] tokens = tokenizer.apply(f.text());
            float weight = (float) f.weight();
            for (int token : tokens) b.add(token, weight);
        }
        if (b.length > 0 || b.chunks.isEmpty()) b.nextChunk(true);
        return List.copyOf(b.chunks);
    }

    /** The state of A1111's loop: the current chunk's tokens and multipliers, and the last comma. */
    private static final class Builder {
        final Config config;
        final List<Chunk> chunks = new ArrayList<>();
        final int[] tokens = new int[CHUNK_LENGTH];
        final float[] weights = new float[CHUNK_LENGTH];
        int length;
        int lastComma = -1;

        Builder(Config config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        void add(int token, float weight) {
            if (token == config.comma()) {
                lastComma = length;
            } else if (config.commaBacktrack() != 0 && length == CHUNK_LENGTH && lastComma != -1
                    && length - lastComma <= config.commaBacktrack()) {
                int breakLocation = lastComma + 1;
                int[] relocTokens = Arrays.copyOfRange(tokens, breakLocation, length);
                float[] relocWeights = Arrays.copyOfRange(weights, breakLocation, length);
                length = breakLocation;
                nextChunk(false);
                System.arraycopy(relocTokens, 0, tokens, 0, relocTokens.length);
                System.arraycopy(relocWeights, 0, weights, 0, relocWeights.length);
                length = relocTokens.length;
            }
            if (length == CHUNK_LENGTH) nextChunk(false);
            tokens[length] = token;
            weights[length] = weight;
            length++;
        }

        /**
         * {@code next_chunk}: pads the current chunk to 75 with EOS at weight 1, adds BOS and EOS, puts
         * the pad id after the first EOS ({@code process_tokens}), and starts an empty chunk.
         * ({@code isLast} only changes A1111's token count, which is not kept here.)
         */
        void nextChunk(boolean isLast) {
            int[] ids = new int[CONTEXT_LENGTH];
            float[] w = new float[CONTEXT_LENGTH];
            ids[0] = config.bos();
            w[0] = 1f;
            for (int i = 0; i < CHUNK_LENGTH; i++) {
                ids[1 + i] = i < length ? tokens[i] : config.eos();
                w[1 + i] = i < length ? weights[i] : 1f;
            }
            ids[CONTEXT_LENGTH - 1] = config.eos();
            w[CONTEXT_LENGTH - 1] = 1f;
            if (config.eos() != config.pad()) {
                // process_tokens: tokens[index + 1:] = id_pad, index = the first id_end
                int first = 0;
                while (ids[first] != config.eos()) first++;
                for (int i = first + 1; i < CONTEXT_LENGTH; i++) ids[i] = config.pad();
            }
            chunks.add(new Chunk(ids, w));
            length = 0;
            lastComma = -1;
        }
    }
}
