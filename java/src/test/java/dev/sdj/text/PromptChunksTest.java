package dev.sdj.text;

import static dev.sdj.text.PromptChunks.BOS;
import static dev.sdj.text.PromptChunks.COMMA;
import static dev.sdj.text.PromptChunks.CONTEXT_LENGTH;
import static dev.sdj.text.PromptChunks.EOS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.text.PromptChunks.Chunk;
import dev.sdj.text.PromptChunks.Config;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The chunker with a fake tokenizer: "w&lt;n&gt;" is token 1000 + n, "," is CLIP's comma (267), any
 * other word is 500. (The real ClipTokenizer plugs in through the same Function.)
 */
class PromptChunksTest {

    private static final Pattern WORD = Pattern.compile(",|[^\\s,]+");
    private static final int OTHER = 500;

    private static final Function<String, int[]> TOKENIZER = text -> {
        List<Integer> ids = new ArrayList<>();
        Matcher m = WORD.matcher(text);
        while (m.find()) {
            String w = m.group();
            ids.add(w.equals(",") ? COMMA : w.matches("w\\d+") ? 1000 + Integer.parseInt(w.substring(1)) : OTHER);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    };

    /** "w0 w1 … w(n-1)", tokens 1000 … 1000 + n − 1. */
    private static String words(int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> "w" + i).collect(Collectors.joining(" "));
    }

    private static List<Chunk> sd1(String prompt) {
        return PromptChunks.of(prompt, TOKENIZER, Config.SD1);
    }

    /** [BOS] + tokens + [EOS] + pad up to 77. */
    private static int[] ids(int pad, int... tokens) {
        int[] out = new int[CONTEXT_LENGTH];
        Arrays.fill(out, pad);
        out[0] = BOS;
        System.arraycopy(tokens, 0, out, 1, tokens.length);
        out[tokens.length + 1] = EOS;
        return out;
    }

    private static int[] range(int from, int to) {
        return IntStream.range(from, to).map(i -> 1000 + i).toArray();
    }

    private static int[] concat(int[] a, int... b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static float[] ones() {
        float[] w = new float[CONTEXT_LENGTH];
        Arrays.fill(w, 1f);
        return w;
    }

    @Test
    void emptyPromptIsOneChunkOfPadding() {
        List<Chunk> c = sd1("");
        assertEquals(1, c.size());
        assertArrayEquals(ids(EOS), c.get(0).ids());
        assertArrayEquals(ones(), c.get(0).weights());
        assertTrue(c.get(0).unweighted());

        List<Chunk> open = PromptChunks.of("", TOKENIZER, 0);
        assertArrayEquals(ids(0), open.get(0).ids()); // [BOS, EOS, 0, 0, …]
        assertEquals(EOS, open.get(0).ids()[1]);
        assertEquals(0, open.get(0).ids()[2]);
    }

    @Test
    void shortPromptIsPaddedWithThePadId() {
        assertArrayEquals(ids(EOS, 1001, 1002), sd1("w1 w2").get(0).ids());
        List<Chunk> sd2 = PromptChunks.of("w1 w2", TOKENIZER, Config.OPEN_CLIP);
        assertArrayEquals(ids(0, 1001, 1002), sd2.get(0).ids());
        assertArrayEquals(ones(), sd2.get(0).weights());
    }

    @Test
    void exactly75TokensFillOneChunk() {
        List<Chunk> c = sd1(words(0, 75));
        assertEquals(1, c.size());
        assertArrayEquals(ids(EOS, range(0, 75)), c.get(0).ids());
        assertEquals(EOS, c.get(0).ids()[76]);
        // a full chunk has no padding, whatever the pad id
        assertArrayEquals(ids(0, range(0, 75)), PromptChunks.of(words(0, 75), TOKENIZER, 0).get(0).ids());
    }

    @Test
    void token76StartsASecondChunk() {
        List<Chunk> c = sd1(words(0, 76));
        assertEquals(2, c.size());
        assertArrayEquals(ids(EOS, range(0, 75)), c.get(0).ids());
        assertArrayEquals(ids(EOS, 1075), c.get(1).ids());
        assertEquals(2, sd1(words(0, 150)).size());
        assertEquals(3, sd1(words(0, 151)).size());
    }

    @Test
    void weightsFollowTheTokensAndAreOneElsewhere() {
        Chunk c = sd1("(w1:1.5) w2 [w3]").get(0);
        assertArrayEquals(ids(EOS, 1001, 1002, 1003), c.ids());
        float[] w = ones();
        w[1] = 1.5f;
        w[3] = (float) (1 / 1.1);
        assertArrayEquals(w, c.weights());
        assertFalse(c.unweighted());
    }

    @Test
    void breakClosesTheChunk() {
        List<Chunk> c = sd1("w1 BREAK w2");
        assertEquals(2, c.size());
        assertArrayEquals(ids(EOS, 1001), c.get(0).ids());
        assertArrayEquals(ids(EOS, 1002), c.get(1).ids());

        // at the start: an all-padding chunk first; at the end: nothing more
        List<Chunk> start = sd1("BREAK w1");
        assertEquals(2, start.size());
        assertArrayEquals(ids(EOS), start.get(0).ids());
        assertEquals(1, sd1("w1 BREAK").size());

        // a BREAK after exactly 75 tokens closes that full chunk (no extra empty one); after 76 it closes
        // the chunk holding the 76th
        assertEquals(2, sd1(words(0, 75) + " BREAK w99").size());
        assertEquals(3, sd1(words(0, 76) + " BREAK w99").size());
    }

    @Test
    void aWeightedBreakIsAWord() {
        List<Chunk> c = sd1("(w1 BREAK w2)");
        assertEquals(1, c.size());
        assertArrayEquals(ids(EOS, 1001, OTHER, 1002), c.get(0).ids());
        assertEquals((float) (-1 * 1.1), c.get(0).weights()[2]);
    }

    @Test
    void theTokenizerIsNotAskedForBreakMarkers() {
        List<String> asked = new ArrayList<>();
        PromptChunks.of("w1 BREAK w2", t -> {
            asked.add(t);
            return TOKENIZER.apply(t);
        }, Config.SD1);
        assertEquals(List.of("w1", "w2"), asked);
    }

    @Test
    void commaBacktrackWithinTwentyTokens() {
        // 55 words, a comma at index 55, then words: at the 76th token the comma is 75 − 55 = 20 back
        String prompt = words(0, 55) + " , " + words(100, 130);
        List<Chunk> c = sd1(prompt);
        assertEquals(2, c.size());
        assertArrayEquals(ids(EOS, concat(range(0, 55), COMMA)), c.get(0).ids());
        assertArrayEquals(ids(EOS, range(100, 130)), c.get(1).ids());

        // the relocated tokens keep their weights
        List<Chunk> weighted = sd1(words(0, 55) + " , (" + words(100, 130) + ":1.3)");
        float[] w = ones();
        Arrays.fill(w, 1, 31, 1.3f);
        assertArrayEquals(w, weighted.get(1).weights());
    }

    @Test
    void noBacktrackWhenTheCommaIs21Back() {
        String prompt = words(0, 54) + " , " + words(100, 130);
        List<Chunk> c = sd1(prompt);
        assertEquals(2, c.size());
        assertArrayEquals(ids(EOS, concat(concat(range(0, 54), COMMA), range(100, 120))), c.get(0).ids());
        assertArrayEquals(ids(EOS, range(120, 130)), c.get(1).ids());
    }

    @Test
    void aCommaAsTheLastTokenOfAChunk() {
        // comma at index 74: the cut after it moves nothing
        List<Chunk> c = sd1(words(0, 74) + " , w100");
        assertArrayEquals(ids(EOS, concat(range(0, 74), COMMA)), c.get(0).ids());
        assertArrayEquals(ids(EOS, 1100), c.get(1).ids());

        // a comma that arrives at a full chunk opens the next one and is then forgotten (A1111 resets
        // last_comma when it closes a chunk), so the next overflow does not backtrack to it
        List<Chunk> d = sd1(words(0, 75) + " , " + words(100, 175));
        assertEquals(3, d.size());
        assertArrayEquals(ids(EOS, concat(new int[] {COMMA}, range(100, 174))), d.get(1).ids());
        assertArrayEquals(ids(EOS, 1174), d.get(2).ids());
    }

    @Test
    void backtrackCanBeTurnedOff() {
        Config off = new Config(BOS, EOS, EOS, COMMA, 0);
        List<Chunk> c = PromptChunks.of(words(0, 70) + " , " + words(100, 110), TOKENIZER, off);
        assertArrayEquals(ids(EOS, concat(concat(range(0, 70), COMMA), range(100, 104))), c.get(0).ids());
        assertArrayEquals(ids(EOS, range(104, 110)), c.get(1).ids());
        assertThrows(IllegalArgumentException.class, () -> new Config(BOS, EOS, EOS, COMMA, -1));
    }

    @Test
    void padIdGoesAfterTheFirstEos() {
        // A1111's process_tokens: everything after the first id_end becomes id_pad, even an EOS the
        // tokenizer produced inside the prompt
        Function<String, int[]> withEos = t -> new int[] {7, EOS, 8};
        Chunk c = PromptChunks.of("x", withEos, 0).get(0);
        int[] want = new int[CONTEXT_LENGTH];
        want[0] = BOS;
        want[1] = 7;
        want[2] = EOS;
        assertArrayEquals(want, c.ids());
        assertArrayEquals(new int[] {BOS, 7, EOS, 8, EOS, EOS}, Arrays.copyOf(PromptChunks.of("x", withEos, EOS).get(0).ids(), 6));
    }

    @Test
    void chunksAreValues() {
        assertEquals(sd1("w1 (w2)"), sd1("w1 (w2)"));
        assertEquals(sd1("w1 (w2)").hashCode(), sd1("w1 (w2)").hashCode());
        assertFalse(sd1("w1 (w2)").equals(sd1("w1 w2")));
        assertThrows(IllegalArgumentException.class, () -> new Chunk(new int[76], new float[77]));
    }
}
