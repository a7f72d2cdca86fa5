package dev.sdj.text;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's BPE tokenizer as Stable Diffusion uses it: openai/CLIP's {@code simple_tokenizer.py}
 * (what transformers' {@code CLIPTokenizer} reproduces when ftfy is installed).
 *
 * <ol>
 *   <li>Cleaning ({@link #clean}): ftfy {@code fix_text} (see below), {@code html.unescape} twice,
 *       strip; whitespace runs to one space, strip; lower case.</li>
 *   <li>Pre-tokens: {@code <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+}
 *       (case-insensitive); whitespace between them is dropped.</li>
 *   <li>Each pre-token's UTF-8 bytes, one symbol per byte (GPT-2's bytes_to_unicode), the last
 *       symbol marked with {@code </w>}, merged by BPE in merge-rank order.</li>
 * </ol>
 *
 * <p>The shipped vocabulary ({@link #load}) is openai/CLIP's {@code bpe_simple_vocab_16e6.txt.gz}
 * (resource {@code dev/sdj/text/}, see the README there): ids 0–255 the byte symbols, 256–511 the
 * same with {@code </w>}, then the first 48894 merges, then {@code <|startoftext|>} = {@link #BOS}
 * and {@code <|endoftext|>} = {@link #EOS}: 49408 tokens. The tokenizer folders of diffusers
 * pipelines ({@code tokenizer/}, {@code tokenizer_2/}: vocab.json + merges.txt) hold the same
 * vocabulary ({@link #fromFolder}).
 *
 * <p><b>Text cleaning deviations from the reference.</b> ftfy 6.1.1's {@code fix_text} is
 * reproduced except for its mojibake repair ({@code fix_encoding}): a prompt that looks like text
 * decoded with the wrong codec ("cafÃ©", "â€œ") is tokenized as typed, where ftfy would first repair
 * it. Unicode tables are the JDK's (newer than CPython 3.11's Unicode 14). transformers'
 * CLIPTokenizer does not call html.unescape, so on prompts with HTML entities that ftfy leaves alone
 * (e.g. "&amp;amp" without ';', or any entity on or after a line containing '&lt;') it differs from
 * the openai reference followed here.
 *
 * <p>Immutable and thread-safe; the per-word BPE cache is bounded and concurrent.
 */
public final class ClipTokenizer {

    /** {@code <|startoftext|>} in CLIP's vocabulary. */
    public static final int BOS = 49406;
    /** {@code <|endoftext|>} in CLIP's vocabulary; SD1 / SDXL's first tokenizer also pads with it. */
    public static final int EOS = 49407;
    /** CLIP's context length: 77 ids with BOS and EOS. */
    public static final int MAX_LENGTH = 77;

    static final String START_OF_TEXT = "<|startoftext|>", END_OF_TEXT = "<|endoftext|>";

    private static final String SHIPPED = "bpe_simple_vocab_16e6.txt.gz";

    // The `regex` module's \s: Python's str.isspace() less U+001C–U+001F.
    private static final String REGEX_SPACE = "\\t\\n\\x0B\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

    // simple_tokenizer.py's pat (the `regex` module, re.IGNORECASE)
    private static final Pattern PRE_TOKEN = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^" + REGEX_SPACE + "\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);

    // Words seen often (the same prompt words again and again) are merged once. Bounded: emptied
    // when full, and long words are not kept.
    private static final int CACHE_ENTRIES = 8192, CACHE_WORD_CHARS = 48;

    private final ClipBpe bpe;
    private final int bos, eos, pad, modelMaxLength;
    private final String source;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(ClipBpe bpe, int pad, int modelMaxLength, String source) {
        this.bpe = bpe;
        this.bos = bpe.id(START_OF_TEXT);
        this.eos = bpe.id(END_OF_TEXT);
        this.pad = pad;
        this.modelMaxLength = modelMaxLength;
        this.source = source;
    }

    // ---- loading ----

    private static final class Shipped {
        static final ClipTokenizer INSTANCE = loadShipped();
    }

    /** The shipped openai/CLIP vocabulary (loaded once, then shared). Pads with EOS like SD1's tokenizer. */
    public static ClipTokenizer load() {
        return Shipped.INSTANCE;
    }

    private static ClipTokenizer loadShipped() {
        try (InputStream in = ClipTokenizer.class.getResourceAsStream(SHIPPED)) {
            if (in == null) throw new IllegalStateException("resource dev/sdj/text/" + SHIPPED + " is missing from sdj-core");
            return fromOpenAi(in, "dev/sdj/text/" + SHIPPED);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the shipped CLIP vocabulary dev/sdj/text/" + SHIPPED, e);
        }
    }

    /**
     * An openai/CLIP merges file ({@code bpe_simple_vocab_16e6.txt}, gzipped or not): the vocabulary
     * is built from the merges as {@code SimpleTokenizer} builds it.
     */
    public static ClipTokenizer fromBpeFile(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "CLIP BPE merges file does not exist");
        try (InputStream in = Files.newInputStream(file)) {
            return fromOpenAi(in, file.toString());
        }
    }

    private static ClipTokenizer fromOpenAi(InputStream raw, String name) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw, 1 << 16);
        in.mark(2);
        boolean gzip = in.read() == 0x1F && in.read() == 0x8B;
        in.reset();
        // gzip.open(path).read().decode("utf-8").split('\n')[1 : 49152 - 256 - 2 + 1]
        List<String[]> merges;
        try {
            merges = readMerges(gzip ? new GZIPInputStream(in, 1 << 16) : in, name);
        } catch (java.util.zip.ZipException e) {
            throw new IOException(name + ": not a readable gzip file: " + e.getMessage(), e);
        }
        String[] bytes = ClipBpe.byteSymbols();
        List<String> vocab = new ArrayList<>(bytes.length * 2 + merges.size() + 2);
        vocab.addAll(Arrays.asList(bytes));
        for (String b : bytes) vocab.add(b + ClipBpe.END_OF_WORD);
        for (String[] m : merges) vocab.add(m[0] + m[1]);
        vocab.add(START_OF_TEXT);
        vocab.add(END_OF_TEXT);
        Map<String, Integer> encoder = new HashMap<>(vocab.size() * 2);
        for (int i = 0; i < vocab.size(); i++) encoder.put(vocab.get(i), i); // a repeated string keeps its last id, as dict(zip()) does
        return build(encoder, merges, name, EOS_PAD, MAX_LENGTH);
    }

    private static final String EOS_PAD = END_OF_TEXT;

    /**
     * A diffusers / transformers CLIP tokenizer folder (a pipeline's {@code tokenizer/} or
     * {@code tokenizer_2/}): {@code vocab.json} (token → id) and {@code merges.txt} ("#version"
     * header line, then one "a b" merge a line; like transformers, only the first 48894 are used).
     * The pad token and model_max_length come from {@code tokenizer_config.json} (else
     * {@code special_tokens_map.json}) where present: SD2 and SDXL's second tokenizer pad with "!" = 0.
     *
     * @throws IOException naming the file when one is missing or not a CLIP tokenizer file
     */
    public static ClipTokenizer fromFolder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "tokenizer folder does not exist");
        Path vocabFile = dir.resolve("vocab.json"), mergesFile = dir.resolve("merges.txt");
        Map<String, Integer> encoder = readVocab(vocabFile);
        if (!Files.isRegularFile(mergesFile)) throw new NoSuchFileException(mergesFile.toString(), null, "CLIP tokenizer file missing");
        // open(encoding="utf-8").read().strip().split("\n")[1 : 49152 - 256 - 2 + 1], universal newlines
        List<String[]> merges;
        try (InputStream in = Files.newInputStream(mergesFile)) {
            merges = readMerges(in, mergesFile.toString());
        }

        String padToken = null;
        Path padFrom = null;
        int maxLength = MAX_LENGTH;
        for (String name : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path f = dir.resolve(name);
            if (!Files.isRegularFile(f)) continue;
            JsonNode config = readJson(f);
            if (padToken == null) {
                padToken = tokenText(config.get("pad_token"));
                padFrom = f;
            }
            JsonNode ml = config.get("model_max_length");
            if (name.startsWith("tokenizer_config") && ml != null && ml.canConvertToInt() && ml.asInt() >= 2 && ml.asInt() <= 1 << 20) {
                maxLength = ml.asInt();
            }
        }
        if (padToken != null && !encoder.containsKey(padToken)) {
            throw new IOException(padFrom + ": pad token " + ClipBpe.quote(padToken) + " is not in " + vocabFile.getFileName());
        }
        return build(encoder, merges, vocabFile + " with merges.txt", padToken == null ? EOS_PAD : padToken, maxLength);
    }

    /** vocab.json, read as a stream (49408 entries): token → id. A repeated token keeps its last id, as in Python. */
    private static Map<String, Integer> readVocab(Path f) throws IOException {
        if (!Files.isRegularFile(f)) throw new NoSuchFileException(f.toString(), null, "CLIP tokenizer file missing");
        Map<String, Integer> encoder = new HashMap<>(100_000);
        try (JsonParser p = Json.MAPPER.getFactory().createParser(f.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(f + ": not a CLIP vocabulary: expected a JSON object of token -> id");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String token = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT) {
                    throw new IOException(f + ": not a CLIP vocabulary: the id of " + ClipBpe.quote(token) + " is "
                            + (p.currentToken() != null && p.currentToken().isScalarValue() ? p.getText() : p.currentToken()));
                }
                encoder.put(token, p.getIntValue());
            }
        } catch (JsonProcessingException e) {
            throw new IOException(f + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        return encoder;
    }

    private static JsonNode readJson(Path f) throws IOException {
        try {
            return Json.MAPPER.readTree(f.toFile());
        } catch (JsonProcessingException e) {
            throw new IOException(f + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper(); // only when a folder is loaded
    }

    /** A special token as transformers writes it: "text", or {"content": "text", ...}. */
    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.get("content") != null && n.get("content").isTextual()) return n.get("content").asText();
        return null;
    }

    /**
     * Lines [1, 1 + 48894) of a merges file as merge pairs (the rest is not read); line 0 must be
     * the "#version" header. Blank lines at the end of a shorter file are ignored (transformers
     * strips the text).
     */
    private static List<String[]> readMerges(InputStream in, String name) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()), 1 << 16);
        List<String> lines = new ArrayList<>(1 + ClipBpe.NUM_MERGES);
        try {
            for (String line; lines.size() < 1 + ClipBpe.NUM_MERGES && (line = r.readLine()) != null; ) lines.add(line);
        } catch (CharacterCodingException e) {
            throw new IOException(name + ": not UTF-8 text", e);
        }
        if (lines.isEmpty() || !lines.get(0).contains("#version")) {
            throw new IOException(name + ": not a CLIP merges file: the first line should be the \"#version\" header, is "
                    + ClipBpe.quote(lines.isEmpty() ? "" : abbreviate(lines.get(0))));
        }
        int end = lines.size();
        while (end > 1 && pyStrip(lines.get(end - 1)).isEmpty()) end--;
        List<String[]> merges = new ArrayList<>(end);
        for (int i = 1; i < end; i++) {
            String[] parts = pySplit(lines.get(i));
            if (parts.length != 2) {
                throw new IOException(name + ": line " + (i + 1) + " is not a merge of two symbols: " + ClipBpe.quote(abbreviate(lines.get(i))));
            }
            merges.add(parts);
        }
        return merges;
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }

    private static ClipTokenizer build(Map<String, Integer> encoder, List<String[]> merges, String name, String padToken,
                                       int maxLength) throws IOException {
        ClipBpe bpe;
        try {
            bpe = new ClipBpe(encoder, merges);
        } catch (IllegalArgumentException e) {
            throw new IOException(name + ": not a CLIP tokenizer: " + e.getMessage(), e);
        }
        for (String special : new String[] {START_OF_TEXT, END_OF_TEXT}) {
            if (bpe.id(special) < 0) throw new IOException(name + ": not a CLIP tokenizer: no " + special + " token");
        }
        return new ClipTokenizer(bpe, bpe.id(padToken), maxLength, name);
    }

    // ---- tokenizing ----

    /**
     * The BPE ids of {@code text}: cleaned, split and merged, without BOS/EOS and not truncated.
     * A literal "&lt;|startoftext|&gt;" / "&lt;|endoftext|&gt;" in the text becomes that special token, as in
     * the reference.
     */
    public int[] bpe(String text) {
        String cleaned = clean(text);
        int[] out = new int[Math.max(8, cleaned.length() / 2)];
        int n = 0;
        Matcher m = PRE_TOKEN.matcher(cleaned);
        while (m.find()) {
            int[] ids = word(m.group());
            if (n + ids.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, n + ids.length));
            System.arraycopy(ids, 0, out, n, ids.length);
            n += ids.length;
        }
        return Arrays.copyOf(out, n);
    }

    /** The ids of one pre-token (shared: callers copy, never write). */
    private int[] word(String token) {
        if (token.equals(START_OF_TEXT)) return new int[] {bos};
        if (token.equals(END_OF_TEXT)) return new int[] {eos};
        int[] ids = cache.get(token);
        if (ids != null) return ids;
        ids = bpe.word(token.getBytes(StandardCharsets.UTF_8));
        if (token.length() <= CACHE_WORD_CHARS) {
            if (cache.size() >= CACHE_ENTRIES) cache.clear();
            cache.put(token, ids);
        }
        return ids;
    }

    /**
     * {@code [BOS] + bpe(text)[:maxLength - 2] + [EOS]}, padded with {@code padId} to
     * {@code maxLength}: {@code padding="max_length", truncation=True} of transformers. SD1 and
     * SDXL's first text encoder pad with {@link #EOS}, SD2 and SDXL's second with 0 ("!").
     */
    public int[] encode(String text, int maxLength, int padId) {
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must leave room for BOS and EOS, is " + maxLength);
        int[] ids = bpe(text);
        int n = Math.min(ids.length, maxLength - 2);
        int[] out = new int[maxLength];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, n);
        out[n + 1] = eos;
        Arrays.fill(out, n + 2, maxLength, padId);
        return out;
    }

    /** {@link #encode(String, int, int)} with this tokenizer's {@link #modelMaxLength} and {@link #padId}. */
    public int[] encode(String text) {
        return encode(text, modelMaxLength, pad);
    }

    /**
     * The text of {@code ids} as the reference decodes it: the tokens' bytes as UTF-8 (invalid
     * sequences become U+FFFD), each {@code </w>} a space. Special tokens decode to their names and
     * pad id 0 to "!". For debugging: cleaning is not undone.
     */
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            String t = bpe.token(id);
            if (t == null) throw new IllegalArgumentException("id " + id + " is not in the vocabulary of " + source);
            for (int i = 0; i < t.length(); i++) {
                int b = ClipBpe.charByte(t.charAt(i));
                if (b >= 0) {
                    bytes.write(b);
                } else { // not a byte symbol (an added token's text): its own UTF-8
                    int cp = t.codePointAt(i);
                    bytes.writeBytes(Character.toString(cp).getBytes(StandardCharsets.UTF_8));
                    i += Character.charCount(cp) - 1;
                }
            }
        }
        return bytes.toString(StandardCharsets.UTF_8).replace(ClipBpe.END_OF_WORD, " ");
    }

    /** The vocabulary string of {@code id} (byte symbols, {@code </w>} marks a word end), or null. */
    public String token(int id) {
        return bpe.token(id);
    }

    /** The id of a vocabulary string, or -1. */
    public int id(String token) {
        return bpe.id(token);
    }

    /** Number of tokens: 49408 for CLIP. */
    public int vocabSize() {
        return bpe.size();
    }

    /** The id of {@code <|startoftext|>} ({@link #BOS} in every CLIP vocabulary). */
    public int bosId() {
        return bos;
    }

    /** The id of {@code <|endoftext|>} ({@link #EOS} in every CLIP vocabulary). */
    public int eosId() {
        return eos;
    }

    /** The pad id the tokenizer was configured with: {@link #EOS} for the shipped one and SD1, 0 for SD2. */
    public int padId() {
        return pad;
    }

    /** Ids per sequence, BOS and EOS included: 77. */
    public int modelMaxLength() {
        return modelMaxLength;
    }

    @Override
    public String toString() {
        return "ClipTokenizer[" + source + ", " + vocabSize() + " tokens]";
    }

    // ---- cleaning ----

    /**
     * CLIP's text cleaning: {@code whitespace_clean(basic_clean(text)).lower()}, i.e. ftfy fix_text
     * (without mojibake repair), html.unescape twice, runs of whitespace to one space, stripped,
     * lower case. E.g. "  Tom &amp;amp; “Jerry”\n" → "tom & \"jerry\"".
     */
    public static String clean(String text) {
        String s = Ftfy.fixText(text);
        if (s.indexOf('&') >= 0) s = HtmlUnescape.python(HtmlUnescape.python(s)); // (the entity table loads on first use)
        s = pyStrip(s);
        s = collapseWhitespace(s);
        return pyLower(pyStrip(s));
    }

    /**
     * Python's str.lower(): the full lower-case mapping (İ → "i̇") and Σ → ς in the Final_Sigma
     * context exactly as CPython tests it (Java's toLowerCase reads that context differently, e.g.
     * in "ΟΔΟΣ-x" and "ΟΔΟΣ's").
     */
    static String pyLower(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (cp == 0x3A3) out.append(finalSigma(s, i) ? '\u03c2' : '\u03c3');
            else if (cp == 0x130) out.append("i\u0307");
            else out.appendCodePoint(Character.toLowerCase(cp));
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    /** CPython's handle_capital_sigma: \p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}). */
    private static boolean finalSigma(String s, int i) {
        int j = i, c = 0;
        boolean found = false;
        while (j > 0) {
            c = s.codePointBefore(j);
            j -= Character.charCount(c);
            if (!caseIgnorable(c)) {
                found = true;
                break;
            }
        }
        if (!found || !cased(c)) return false;
        for (j = i + 1; j < s.length(); ) {
            c = s.codePointAt(j);
            if (!caseIgnorable(c)) return !cased(c);
            j += Character.charCount(c);
        }
        return true;
    }

    private static boolean cased(int c) {
        return Character.isLowerCase(c) || Character.isUpperCase(c) || Character.isTitleCase(c);
    }

    /** Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, or Word_Break MidLetter / MidNumLet / Single_Quote. */
    private static boolean caseIgnorable(int c) {
        return switch (Character.getType(c)) {
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.FORMAT, Character.MODIFIER_LETTER,
                 Character.MODIFIER_SYMBOL -> true;
            default -> c == 0x27 || c == 0x2E || c == 0x3A || c == 0xB7 || c == 0x387 || c == 0x55F || c == 0x5F4
                    || c == 0x2018 || c == 0x2019 || c == 0x2024 || c == 0x2027 || c == 0xFE13 || c == 0xFE52
                    || c == 0xFE55 || c == 0xFF07 || c == 0xFF0E || c == 0xFF1A;
        };
    }

    /** Python's str.isspace() for one character (what str.strip() and str.split() use). */
    static boolean isPySpace(int c) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    static String pyStrip(String s) {
        int start = 0, end = s.length();
        while (start < end && isPySpace(s.charAt(start))) start++;
        while (end > start && isPySpace(s.charAt(end - 1))) end--;
        return s.substring(start, end);
    }

    /** regex.sub(r'\s+', ' ', s) (simple_tokenizer imports the `regex` module as re). */
    private static String collapseWhitespace(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean inSpace = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (isPySpace(c) && !(c >= 0x1C && c <= 0x1F)) {
                if (!inSpace) out.append(' ');
                inSpace = true;
            } else {
                out.append(c);
                inSpace = false;
            }
        }
        return out.toString();
    }

    /** str.split(): on runs of whitespace, no empty parts. */
    private static String[] pySplit(String s) {
        List<String> parts = new ArrayList<>(2);
        int i = 0, n = s.length();
        while (i < n) {
            while (i < n && isPySpace(s.charAt(i))) i++;
            int start = i;
            while (i < n && !isPySpace(s.charAt(i))) i++;
            if (i > start) parts.add(s.substring(start, i));
        }
        return parts.toArray(new String[0]);
    }
}
