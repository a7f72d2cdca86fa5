package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.text.ClipTokenizer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The "tokenizer" kind: one prompt through {@link ClipTokenizer}, giving {@code bpe_ids} (no
 * BOS/EOS, not truncated) and the two padded sequences of {@code max_length} ids:
 * {@code input_ids_pad_eos} (SD1 / SDXL's first tokenizer) and {@code input_ids_pad_zero} (SD2 /
 * SDXL's second), as I64. The case's model is the openai BPE merges file (.txt.gz) or a
 * vocab.json + merges.txt folder; without one, the shipped vocabulary.
 */
final class TokenizerCases {
    private TokenizerCases() {}

    // Loaded tokenizers by file and its time (a run has 20 cases on one vocabulary); a few at most.
    private static final Map<String, ClipTokenizer> LOADED = new LinkedHashMap<>();

    static Map<String, Tensor> run(GoldenCase c, CaseFiles f) throws IOException {
        String prompt = prompt(c, f);
        JsonNode ml = c.input("max_length");
        int maxLength = ClipTokenizer.MAX_LENGTH;
        if (ml != null) {
            if (!ml.canConvertToInt() || !ml.isIntegralNumber() || ml.asInt() < 2) {
                throw new GoldenFormatException("input \"max_length\" must be an integer of at least 2, is " + ml);
            }
            maxLength = ml.asInt();
        }
        ClipTokenizer tok = tokenizer(c.model());
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("bpe_ids", i64(tok.bpe(prompt)));
        out.put("input_ids_pad_eos", i64(tok.encode(prompt, maxLength, tok.eosId())));
        out.put("input_ids_pad_zero", i64(tok.encode(prompt, maxLength, 0)));
        return out;
    }

    /** The prompt: a literal string, or a reference to a JSON string. */
    private static String prompt(GoldenCase c, CaseFiles f) throws IOException {
        JsonNode p = c.input("prompt");
        if (p == null) throw new GoldenFormatException("tokenizer cases need an input \"prompt\"");
        if (Ref.isObjectForm(p)) p = f.json(c.inputRef("prompt"));
        if (!p.isTextual()) throw new GoldenFormatException("input \"prompt\" must be a string, is " + p);
        return p.asText();
    }

    private static ClipTokenizer tokenizer(Path model) throws IOException {
        if (model == null) return ClipTokenizer.load();
        if (!Files.exists(model)) throw new NoSuchFileException(model.toString(), null, "tokenizer file or folder does not exist");
        String key = model.toAbsolutePath().normalize() + " " + Files.getLastModifiedTime(model);
        synchronized (LOADED) {
            ClipTokenizer tok = LOADED.get(key);
            if (tok != null) return tok;
        }
        ClipTokenizer tok = Files.isDirectory(model) ? ClipTokenizer.fromFolder(model) : ClipTokenizer.fromBpeFile(model);
        synchronized (LOADED) {
            if (LOADED.size() >= 4) LOADED.clear();
            LOADED.put(key, tok);
        }
        return tok;
    }

    private static Tensor i64(int[] ids) {
        long[] v = new long[ids.length];
        for (int i = 0; i < ids.length; i++) v[i] = ids[i];
        return new Tensor(MemorySegment.ofArray(v), DType.I64, Layout.PLAIN, Device.CPU, ids.length);
    }
}
