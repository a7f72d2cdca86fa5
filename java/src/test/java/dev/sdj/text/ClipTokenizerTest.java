package dev.sdj.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ClipTokenizer} against ids of openai/CLIP's SimpleTokenizer (with ftfy 6.1.1): the values
 * are taken from tests/golden/clip/tokenizer-cases.json or computed with that reference.
 */
class ClipTokenizerTest {

    private static final ClipTokenizer TOK = ClipTokenizer.load();

    private static final String CAT = "a photo of a cat";
    private static final int[] CAT_IDS = {320, 1125, 539, 320, 2368};

    // ---- the shipped vocabulary ----

    @Test
    void shippedVocabulary() {
        assertSame(TOK, ClipTokenizer.load(), "loaded once, then shared");
        assertEquals(49408, TOK.vocabSize());
        assertEquals(ClipTokenizer.BOS, TOK.bosId());
        assertEquals(ClipTokenizer.EOS, TOK.eosId());
        assertEquals(ClipTokenizer.EOS, TOK.padId(), "SD1's tokenizer pads with EOS");
        assertEquals(77, TOK.modelMaxLength());
        assertEquals("<|startoftext|>", TOK.token(49406));
        assertEquals("<|endoftext|>", TOK.token(49407));
        assertEquals("!", TOK.token(0), "0 is '!': SD2's pad token");
        assertEquals("!</w>", TOK.token(256));
        assertEquals("\u0100", TOK.token(188), "byte 0 is written U+0100, after the 188 printable bytes");
        assertEquals("in", TOK.token(512), "the first merge, 'i n'");
        assertEquals("jekyll</w>", TOK.token(49405), "the last merge used, 'jeky ll</w>'");
        assertEquals(2368, TOK.id("cat</w>"));
        assertEquals(-1, TOK.id("no such token"));
        assertNull(TOK.token(49408));
        assertNull(TOK.token(-1));
    }

    // ---- encodings of the golden file ----

    @Test
    void goldenEncodings() {
        assertArrayEquals(CAT_IDS, TOK.bpe(CAT));
        assertArrayEquals(CAT_IDS, TOK.bpe("A Photo Of A CAT"));
        assertArrayEquals(new int[0], TOK.bpe(""));
        assertArrayEquals(new int[] {263, 736, 281, 272, 269, 273, 264, 2368, 267, 314, 1746, 316, 1929},
                TOK.bpe("(red:1.2) cat, [blue] dog"), "weight syntax is plain text to the tokenizer");
        assertArrayEquals(new int[] {257, 20795, 5808, 257, 537, 568, 17005, 262},
                TOK.bpe("\u201ccurly quotes\u201d and \u2018single\u2019"), "quotes uncurled, then 's split off");
        assertArrayEquals(new int[] {39121, 44353, 34002, 252, 21575, 2429, 245, 35827, 25914, 245, 2429, 486, 163, 234, 360},
                TOK.bpe("日本語のプロンプト 猫"));
        assertArrayEquals(new int[] {16327, 35710, 13542, 1628}, TOK.bpe("emoji 🐱🚀 test"));
        assertArrayEquals(new int[] {3797, 19915, 4490, 9407, 23571}, TOK.bpe("\ufb01ne ligature Ｆｕｌｌｗｉｄｔｈ"));
        assertArrayEquals(new int[] {2435, 261, 9164}, TOK.bpe("tom &amp; jerry"));
    }

    @Test
    void encodePadsWithEosOrZero() {
        int[] eos = TOK.encode(CAT, 77, ClipTokenizer.EOS);
        int[] zero = TOK.encode(CAT, 77, 0);
        assertEquals(77, eos.length);
        assertEquals(77, zero.length);
        int[] head = {49406, 320, 1125, 539, 320, 2368, 49407};
        assertArrayEquals(head, Arrays.copyOf(eos, 7));
        assertArrayEquals(head, Arrays.copyOf(zero, 7));
        for (int i = 7; i < 77; i++) {
            assertEquals(49407, eos[i]);
            assertEquals(0, zero[i]);
        }
        assertArrayEquals(eos, TOK.encode(CAT), "the configured length and pad");
        assertArrayEquals(new int[] {49406, 49407, 0, 0}, TOK.encode("", 4, 0));
        assertArrayEquals(new int[] {49406, 49407}, TOK.encode(CAT, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> TOK.encode(CAT, 1, 0));
    }

    @Test
    void encodeTruncatesTo77() {
        String phrase = "a beautiful landscape with mountains, rivers, forests and a dramatic sky at sunset, ";
        String prompt = phrase.repeat(6);
        int[] bpe = TOK.bpe(prompt);
        assertEquals(96, bpe.length, "bpe() does not truncate");
        assertArrayEquals(new int[] {320, 1215, 5727, 593, 5873, 267, 10723, 267, 14095, 537, 320, 11240, 2390, 536, 3424, 267},
                Arrays.copyOf(bpe, 16));
        for (int pad : new int[] {ClipTokenizer.EOS, 0}) {
            int[] ids = TOK.encode(prompt, 77, pad);
            assertEquals(77, ids.length);
            assertEquals(ClipTokenizer.BOS, ids[0]);
            assertArrayEquals(Arrays.copyOf(bpe, 75), Arrays.copyOfRange(ids, 1, 76));
            assertEquals(ClipTokenizer.EOS, ids[76], "EOS stays, the 76th and later BPE tokens go");
        }
        // exactly 75 tokens fit; a 76th pushes the last out
        String xs = "x ".repeat(75);
        assertEquals(ClipTokenizer.EOS, TOK.encode(xs, 77, 0)[76]);
        int[] cut = TOK.encode(xs + "y", 77, 0);
        assertEquals(ClipTokenizer.EOS, cut[76]);
        assertTrue(Arrays.stream(cut).noneMatch(id -> id == 344), "'y' is the 76th token");
    }

    @Test
    void whitespaceAndCaseCleanup() {
        assertArrayEquals(CAT_IDS, TOK.bpe("  A   Photo\tOF\na CAT  "));
        assertArrayEquals(CAT_IDS, TOK.bpe("a\u00a0photo\u2009of\u3000a\r\ncat"), "Unicode spaces too");
        assertEquals("a photo of a cat", ClipTokenizer.clean("  A   Photo\tOF\na CAT  "));
        assertArrayEquals(new int[] {1148, 272, 1148, 273, 283, 274, 261}, TOK.bpe("line1\r\nline2 &lt;3\n&amp;amp;"));
    }

    @Test
    void specialTokensInTheText() {
        assertArrayEquals(new int[] {49407, 343, 49407}, TOK.bpe("<|endoftext|> x <|ENDOFTEXT|>"));
        assertArrayEquals(new int[] {49406}, TOK.bpe("<|startoftext|>"));
    }

    @Test
    void decode() {
        assertEquals("<|startoftext|>a photo <|endoftext|>!!", TOK.decode(new int[] {49406, 320, 1125, 49407, 0, 0}));
        assertEquals("a café , 🐱 ", TOK.decode(TOK.bpe("a café, 🐱")));
        assertEquals("日本語のプロンプト 猫 ", TOK.decode(TOK.bpe("日本語のプロンプト 猫")), "byte-level tokens join back into UTF-8");
        assertEquals("\uFFFD", TOK.decode(new int[] {TOK.id("\u00e6")}), "a lone lead byte decodes to U+FFFD");
        assertThrows(IllegalArgumentException.class, () -> TOK.decode(new int[] {49408}));
    }

    @Test
    void longAndOddWords() {
        String word = "supercalifragilisticexpialidocious".repeat(40);
        int[] ids = TOK.bpe(word);
        assertTrue(ids.length > 40);
        assertEquals(word + " ", TOK.decode(ids));
        assertArrayEquals(ids, TOK.bpe(word), "a word too long for the cache gives the same ids again");
        assertArrayEquals(new int[0], TOK.bpe(" \t\n\u0007\u007f\ufeff\u206a"), "only whitespace and removed controls");
        assertArrayEquals(new int[] {31001}, TOK.bpe("\u200e"), "a left-to-right mark is kept (ftfy keeps glyph controls)");
    }

    // ---- a diffusers tokenizer folder ----

    /** vocab.json + merges.txt as in a diffusers pipeline's tokenizer/, written from the shipped file. */
    static Path writeFolder(Path dir, int extraMergeLines) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int id = 0; id < TOK.vocabSize(); id++) vocab.put(TOK.token(id), id);
        new ObjectMapper().writeValue(dir.resolve("vocab.json").toFile(), vocab);
        List<String> merges = new ArrayList<>(shippedMergeLines().subList(0, 1 + ClipBpe.NUM_MERGES));
        merges.set(0, "#version: 0.2");
        for (int i = 0; i < extraMergeLines; i++) merges.add("q z"); // past the 48894 used: ignored, as by transformers
        Files.writeString(dir.resolve("merges.txt"), String.join("\n", merges) + "\n", StandardCharsets.UTF_8);
        return dir;
    }

    private static List<String> shippedMergeLines() throws IOException {
        try (InputStream in = ClipTokenizer.class.getResourceAsStream("bpe_simple_vocab_16e6.txt.gz");
             InputStream gz = new GZIPInputStream(in)) {
            return Arrays.asList(new String(gz.readAllBytes(), StandardCharsets.UTF_8).split("\n", -1));
        }
    }

    @Test
    void folderRoundTrip(@TempDir Path dir) throws IOException {
        ClipTokenizer folder = ClipTokenizer.fromFolder(writeFolder(dir, 3));
        assertEquals(49408, folder.vocabSize());
        assertEquals(ClipTokenizer.BOS, folder.bosId());
        assertEquals(ClipTokenizer.EOS, folder.eosId());
        assertEquals(ClipTokenizer.EOS, folder.padId(), "no tokenizer_config.json: pad with EOS");
        for (String p : List.of(CAT, "(red:1.2) cat, [blue] dog", "日本語のプロンプト 猫", "emoji 🐱🚀 test",
                "masterpiece, best quality, 1girl, solo, looking at viewer", "a café in Zürich — naïve façade")) {
            assertArrayEquals(TOK.bpe(p), folder.bpe(p), p);
            assertArrayEquals(TOK.encode(p, 77, 0), folder.encode(p, 77, 0), p);
        }
    }

    @Test
    void folderPadTokenFromTokenizerConfig(@TempDir Path dir) throws IOException {
        writeFolder(dir, 0);
        // SD2 / SDXL tokenizer_2: pad_token "!"
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"model_max_length": 77, "pad_token": "!", "bos_token": {"content": "<|startoftext|>"}}""");
        ClipTokenizer sd2 = ClipTokenizer.fromFolder(dir);
        assertEquals(0, sd2.padId());
        assertArrayEquals(TOK.encode(CAT, 77, 0), sd2.encode(CAT));
        // SD1: special_tokens_map.json with the object form
        Files.delete(dir.resolve("tokenizer_config.json"));
        Files.writeString(dir.resolve("special_tokens_map.json"), """
                {"pad_token": {"content": "<|endoftext|>", "lstrip": false}}""");
        assertEquals(ClipTokenizer.EOS, ClipTokenizer.fromFolder(dir).padId());
    }

    @Test
    void bpeFile(@TempDir Path dir) throws IOException {
        Path plain = dir.resolve("bpe.txt");
        Files.writeString(plain, String.join("\n", shippedMergeLines()), StandardCharsets.UTF_8);
        ClipTokenizer t = ClipTokenizer.fromBpeFile(plain);
        assertEquals(49408, t.vocabSize());
        assertArrayEquals(CAT_IDS, t.bpe(CAT));
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.fromBpeFile(dir.resolve("gone.txt.gz")));
        assertTrue(e.getMessage().contains("gone.txt.gz"), e.getMessage());
    }

    // ---- broken folders name the file ----

    @Test
    void missingFolderOrFiles(@TempDir Path dir) throws IOException {
        IOException e = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.fromFolder(dir.resolve("tokenizer")));
        assertTrue(e.getMessage().contains("tokenizer"), e.getMessage());
        e = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.fromFolder(dir));
        assertTrue(e.getMessage().contains("vocab.json"), e.getMessage());
        writeFolder(dir, 0);
        Files.delete(dir.resolve("merges.txt"));
        e = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.fromFolder(dir));
        assertTrue(e.getMessage().contains("merges.txt"), e.getMessage());
    }

    @Test
    void corruptFiles(@TempDir Path dir) throws IOException {
        writeFolder(dir, 0);
        Path vocab = dir.resolve("vocab.json"), merges = dir.resolve("merges.txt");
        String goodVocab = Files.readString(vocab), goodMerges = Files.readString(merges);

        Files.writeString(vocab, goodVocab.substring(0, 1000));
        assertMessage(dir, "vocab.json", "not valid JSON");
        Files.writeString(vocab, "[1, 2, 3]");
        assertMessage(dir, "vocab.json", "JSON object");
        Files.writeString(vocab, goodVocab.replace("\"in\":512", "\"in\":\"x\""));
        assertMessage(dir, "vocab.json", "\"in\"");
        Files.writeString(vocab, goodVocab.replace("\"in\":512", "\"in\":513"));
        assertMessage(dir, "vocab.json", "the same id 513");
        Files.writeString(vocab, goodVocab.replace("\"cat</w>\":2368,", ""));
        assertMessage(dir, "vocab.json", "\"cat</w>\" is not in the vocabulary");
        Files.writeString(vocab, goodVocab.replace("\"<|endoftext|>\":49407", "\"<|end|>\":49407"));
        assertMessage(dir, "vocab.json", "<|endoftext|>");
        Files.writeString(vocab, goodVocab);

        Files.writeString(merges, goodMerges.substring(goodMerges.indexOf('\n') + 1));
        assertMessage(dir, "merges.txt", "#version");
        Files.writeString(merges, goodMerges.replaceFirst("\nt h\n", "\nt h x\n"));
        assertMessage(dir, "merges.txt", "line 3");
        Files.writeString(merges, goodMerges.replaceFirst("\nt h\n", "\nt \u4e00\n"));
        assertMessage(dir, "merges.txt", "merge 2");
        Files.writeString(merges, goodMerges);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"pad_token\": \"<pad>\"}");
        assertMessage(dir, "tokenizer_config.json", "<pad>");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{");
        assertMessage(dir, "tokenizer_config.json", "not valid JSON");
    }

    private static void assertMessage(Path dir, String file, String detail) {
        IOException e = assertThrows(IOException.class, () -> ClipTokenizer.fromFolder(dir));
        assertTrue(e.getMessage().contains(file) && e.getMessage().contains(detail), e.getMessage());
    }

    // ---- threads ----

    @Test
    void concurrentTokenizingGivesTheSameIds(@TempDir Path dir) throws Exception {
        // more distinct words than the cache holds, so that it is emptied while threads read it
        Random rnd = new Random(7);
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 1500; i++) {
            StringBuilder p = new StringBuilder();
            for (int w = 0; w < 6; w++) {
                for (int c = 2 + rnd.nextInt(8); c > 0; c--) p.append((char) ('a' + rnd.nextInt(26)));
                p.append(w % 3 == 2 ? ", " : " ");
            }
            if (i % 10 == 0) p.append("café 🐱 日本語");
            prompts.add(p.toString());
        }
        ClipTokenizer fresh = ClipTokenizer.fromFolder(writeFolder(dir, 0));
        List<int[]> expected = prompts.stream().map(p -> TOK.encode(p, 77, 0)).toList();
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            List<Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < 12; t++) {
                int start = t * 97;
                done.add(pool.submit(() -> {
                    int n = 0;
                    for (int k = 0; k < prompts.size(); k++) {
                        int i = (start + k) % prompts.size();
                        assertArrayEquals(expected.get(i), fresh.encode(prompts.get(i), 77, 0), prompts.get(i));
                        n++;
                    }
                    return n;
                }));
            }
            for (Future<Integer> f : done) assertEquals(prompts.size(), f.get());
        } finally {
            pool.shutdownNow();
        }
    }
}
