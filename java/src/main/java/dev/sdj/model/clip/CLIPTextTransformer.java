package dev.sdj.model.clip;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.Params;
import dev.sdj.model.nn.LayerNorm;
import java.util.List;

/**
 * transformers' CLIPTextTransformer ({@code text_model.}): embeddings, the encoder under the causal
 * mask, final_layer_norm, and the pooled output: the final hidden state at each row's EOS token.
 *
 * <p>Pooling follows transformers: with {@code eos_token_id} 2 (the value every SD text encoder
 * config carries, from before the tokenizer's ids were wired in) the legacy rule, the position of
 * the row's largest id (its first occurrence), which is the first EOS because CLIP's EOS 49407 is
 * the largest id; with any other eos_token_id, the first position holding it (0 when none does).
 * The gather runs on the backend as a product with a one-hot (B, 1, L) selector, exact in fp32.
 */
public final class CLIPTextTransformer {
    private final Backend b;
    private final CLIPTextConfig config;
    private final CLIPTextEmbeddings embeddings;
    private final CLIPEncoder encoder;
    private final LayerNorm finalLayerNorm;

    public CLIPTextTransformer(Params p, CLIPTextConfig c) {
        this.b = p.backend();
        this.config = c;
        this.embeddings = new CLIPTextEmbeddings(p.child("embeddings"), c.vocabSize(), c.maxPositionEmbeddings(), c.hiddenSize());
        this.encoder = new CLIPEncoder(p.child("encoder"), c);
        this.finalLayerNorm = new LayerNorm(p.child("final_layer_norm"), c.hiddenSize(), c.layerNormEps());
    }

    /** What the text transformer computes: transformers' outputs with {@code output_hidden_states=True}. */
    public record Output(Tensor lastHiddenState, Tensor pooledOutput, List<Tensor> hiddenStates) {}

    /** ids: B rows of the same length L ≤ max_position_embeddings (checked by {@link #checkIds}). */
    public Output forward(int[][] ids) {
        checkIds(ids);
        List<Tensor> states = encoder.forward(embeddings.forward(ids));
        Tensor last = finalLayerNorm.forward(states.get(states.size() - 1));
        return new Output(last, pool(last, ids), List.copyOf(states));
    }

    public Tensor finalLayerNorm(Tensor x) {
        return finalLayerNorm.forward(x);
    }

    /** (B, L, D) → (B, D): each row's state at its {@link #eosPosition}. */
    Tensor pool(Tensor states, int[][] ids) {
        int batch = ids.length, len = ids[0].length, d = states.dim(2);
        float[] select = new float[batch * len];
        for (int r = 0; r < batch; r++) select[r * len + eosPosition(ids[r], config.eosTokenId())] = 1f;
        Tensor sel = b.upload(Tensor.of(select, batch, 1, len));
        return b.matmul(sel, states, false, false, 1f).reshape(batch, d);
    }

    /** The position transformers pools at for one row of ids (see the class comment). */
    public static int eosPosition(int[] ids, int eosTokenId) {
        int at = 0;
        if (eosTokenId == 2) {
            for (int i = 1; i < ids.length; i++) if (ids[i] > ids[at]) at = i;
            return at;
        }
        for (int i = 0; i < ids.length; i++) if (ids[i] == eosTokenId) return i;
        return 0;
    }

    void checkIds(int[][] ids) {
        if (ids == null || ids.length == 0) throw new IllegalArgumentException("text encoder: no input ids");
        int len = ids[0] == null ? 0 : ids[0].length;
        if (len == 0 || len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("text encoder: " + len + " tokens per row; the model takes 1 to "
                    + config.maxPositionEmbeddings());
        }
        for (int r = 0; r < ids.length; r++) {
            if (ids[r] == null || ids[r].length != len) {
                throw new IllegalArgumentException("text encoder: row " + r + " has " + (ids[r] == null ? 0 : ids[r].length)
                        + " tokens, row 0 has " + len + " (pad every row to the same length)");
            }
            for (int i = 0; i < len; i++) {
                if (ids[r][i] < 0 || ids[r][i] >= config.vocabSize()) {
                    throw new IllegalArgumentException("text encoder: token id " + ids[r][i] + " at row " + r + ", position " + i
                            + " is outside the vocabulary [0, " + config.vocabSize() + ")");
                }
            }
        }
    }
}
