package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.SafeTensorsWeights;
import dev.sdj.model.Weights;
import dev.sdj.model.WeightsException;
import dev.sdj.model.clip.CLIPTextConfig;
import dev.sdj.model.clip.CLIPTextModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The "text-encoder" kind: the case's CLIP text encoder (a transformers CLIPTextModel folder:
 * config.json, model.safetensors) on its input_ids, with every output transformers gives:
 * {@code hidden_states.i}, {@code last_hidden_state}, {@code pooled_output}, and
 * {@code penultimate_final_layer_norm} (final_layer_norm(hidden_states[−2]), "clip skip 2"). With
 * the case's optional {@code "text_projection"} file (text_projection.weight, as
 * CLIPTextModelWithProjection holds it) the model is built with its projection and gives
 * {@code text_embeds} too.
 */
final class TextEncoderCases {
    private TextEncoderCases() {}

    static Map<String, Tensor> run(GoldenCase c, CaseFiles f, Backend b, ModelCache models) throws IOException {
        if (c.isSingleFile()) throw new GoldenFormatException("text-encoder cases load a transformers CLIPTextModel folder");
        if (c.model() == null) throw new GoldenFormatException("the case has no \"model\"");
        JsonNode proj = c.json().get("text_projection");
        if (proj != null && !proj.isTextual()) throw new GoldenFormatException("\"text_projection\" must be a file name, is " + proj);
        Path projection = proj == null ? null : c.dir().resolve(proj.asText());
        CLIPTextModel model = models.get(c.model(), projection, CLIPTextModel.class, (dir, backend) -> load(dir, projection, backend));

        Tensor ids = f.tensor(c.inputRef("input_ids"));
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Backend.Scope scope = b.scope()) {
            CLIPTextModel.Output o = model.forward(ids);
            for (int i = 0; i < o.hiddenStates().size(); i++) out.put("hidden_states." + i, b.download(o.hiddenStates().get(i)));
            out.put("last_hidden_state", b.download(o.lastHiddenState()));
            out.put("penultimate_final_layer_norm", b.download(model.clipSkip(o, 2)));
            out.put("pooled_output", b.download(o.pooledOutput()));
            if (o.textEmbeds() != null) out.put("text_embeds", b.download(o.textEmbeds()));
        }
        return out;
    }

    /** The folder's model, with the projection from {@code projectionFile} when one is given. */
    private static CLIPTextModel load(Path dir, Path projectionFile, Backend backend) throws IOException {
        if (projectionFile == null) return CLIPTextModel.load(dir, backend);
        if (!Files.isRegularFile(projectionFile)) throw new NoSuchFileException(projectionFile.toString(), null, "text_projection file does not exist");
        CLIPTextConfig config = CLIPTextConfig.read(dir.resolve("config.json")).withProjection(true);
        SafeTensorsWeights main = SafeTensorsWeights.open(dir.resolve("model.safetensors"));
        SafeTensorsWeights projection;
        try {
            projection = SafeTensorsWeights.open(projectionFile);
        } catch (IOException | RuntimeException e) {
            main.close();
            throw e;
        }
        // text_projection.* from its own file, everything else from the model's.
        Weights both = new Weights() {
            @Override
            public Tensor get(String name, int... shape) {
                return (name.startsWith("text_projection.") ? projection : main).get(name, shape);
            }

            @Override
            public String source() {
                return main.source() + " + " + projection.source();
            }

            @Override
            public void close() {
                main.close();
                projection.close();
            }
        };
        try {
            CLIPTextModel model = new CLIPTextModel(config, both, backend);
            List<String> unused = new ArrayList<>(main.unused());
            unused.addAll(projection.unused());
            unused.removeIf(k -> k.endsWith("position_ids"));
            if (!unused.isEmpty()) {
                throw new WeightsException(both.source(), unused.get(0), "is not a parameter of the text encoder (" + unused.size() + " such keys)");
            }
            return model;
        } catch (RuntimeException e) {
            both.close();
            throw e;
        }
    }
}
