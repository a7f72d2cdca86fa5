package dev.sdj.model.clip;

import dev.sdj.core.Tensor;
import dev.sdj.model.Params;
import java.util.ArrayList;
import java.util.List;

/** transformers' CLIPEncoder: {@code num_hidden_layers} CLIPEncoderLayers ("layers.N") in sequence. */
public final class CLIPEncoder {
    private final List<CLIPEncoderLayer> layers = new ArrayList<>();

    public CLIPEncoder(Params p, CLIPTextConfig c) {
        for (int i = 0; i < c.numHiddenLayers(); i++) layers.add(new CLIPEncoderLayer(p.child("layers." + i), c));
    }

    public int numLayers() {
        return layers.size();
    }

    /**
     * Runs the layers on the embeddings x; returns transformers' {@code hidden_states}: x itself, then
     * every layer's output (numLayers + 1 tensors, the last one the encoder's output).
     */
    public List<Tensor> forward(Tensor x) {
        List<Tensor> states = new ArrayList<>(layers.size() + 1);
        states.add(x);
        for (CLIPEncoderLayer layer : layers) {
            x = layer.forward(x);
            states.add(x);
        }
        return states;
    }
}
