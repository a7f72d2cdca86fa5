package dev.sdj.model.clip;

import dev.sdj.backend.Backend;
import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Tensor;
import dev.sdj.model.Params;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * transformers' CLIPTextEmbeddings: token_embedding(input_ids) + position_embedding(0 … L−1).
 *
 * <p>The two tables stay on the host, as the weights hold them (a view of the mapped file, in its
 * dtype); they are never uploaded. A forward gathers the rows of the prompt's ids and positions on
 * the host, adds them in fp32 (as transformers does), and uploads the (B, L, hidden) result: one
 * small upload per prompt, and the only host arithmetic of the text encoder.
 */
public final class CLIPTextEmbeddings {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private final Backend b;
    private final Tensor tokenEmbedding, positionEmbedding;
    private final int vocab, positions, hidden;

    public CLIPTextEmbeddings(Params p, int vocab, int positions, int hidden) {
        this.b = p.backend();
        this.vocab = vocab;
        this.positions = positions;
        this.hidden = hidden;
        // Host tensors straight from the weights (not Params.tensor, which uploads).
        this.tokenEmbedding = p.weights().get(p.name("token_embedding.weight"), vocab, hidden);
        this.positionEmbedding = p.weights().get(p.name("position_embedding.weight"), positions, hidden);
    }

    /** ids: B rows of L ≤ max_position_embeddings token ids in [0, vocab_size). Result (B, L, hidden) on the backend. */
    public Tensor forward(int[][] ids) {
        int batch = ids.length, len = ids[0].length;
        float[] out = new float[Math.toIntExact((long) batch * len * hidden)];
        float[] tok = new float[hidden], pos = new float[hidden];
        for (int i = 0; i < len; i++) {
            row(positionEmbedding, i, pos);
            for (int r = 0; r < batch; r++) {
                row(tokenEmbedding, ids[r][i], tok);
                int base = (r * len + i) * hidden;
                for (int c = 0; c < hidden; c++) out[base + c] = tok[c] + pos[c];
            }
        }
        return b.upload(Tensor.of(out, batch, len, hidden));
    }

    /** Row {@code i} of a host table in fp32 (exact for F32, F16 and BF16 tables). */
    private void row(Tensor table, int i, float[] dst) {
        if (table.device() != Device.CPU) throw new IllegalStateException("embedding table " + table + " is not on the host");
        long offset = (long) i * hidden;
        if (table.dtype() == DType.F32) {
            MemorySegment.copy(table.data(), F32, offset * Float.BYTES, dst, 0, hidden);
        } else {
            for (int c = 0; c < hidden; c++) dst[c] = table.getFloat(offset + c);
        }
    }

    public int vocabSize() {
        return vocab;
    }

    public int maxPositions() {
        return positions;
    }
}
