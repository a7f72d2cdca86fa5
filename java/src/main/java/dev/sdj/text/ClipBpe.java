package dev.sdj.text;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * CLIP's byte-level BPE: the vocabulary (token string ↔ id), the merge ranks and the merge loop of
 * openai/CLIP {@code SimpleTokenizer.bpe} (= transformers {@code CLIPTokenizer.bpe}), on ids instead
 * of strings. Immutable once built, so safe to share between threads.
 *
 * <p>Every string a word is made of is a vocabulary entry (a byte symbol, a byte symbol +
 * {@code </w>}, or the result of a merge), so ids stand for strings one to one and a merge rank keyed
 * by the id pair is the rank of the string pair.
 */
final class ClipBpe {
    /** Marks the last symbol of a word. */
    static final String END_OF_WORD = "</w>";

    /** Number of merges CLIP uses: lines [1, 49152 − 256 − 2 + 1) of its merges file. */
    static final int NUM_MERGES = 49152 - 256 - 2;

    // GPT-2's bytes_to_unicode: byte b is written as the character BYTE_CHAR[b]; BYTE_ORDER is the
    // dict's order (printable bytes first), which is the order of the first 256 (and 512) vocab ids.
    private static final char[] BYTE_CHAR = new char[256];
    private static final int[] BYTE_ORDER = new int[256];
    private static final int[] CHAR_BYTE = new int[512]; // character -> byte, -1 where none

    static {
        Arrays.fill(CHAR_BYTE, -1);
        boolean[] printable = new boolean[256];
        int k = 0;
        for (int b = 0; b < 256; b++) {
            if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
                printable[b] = true;
                BYTE_CHAR[b] = (char) b;
                BYTE_ORDER[k++] = b;
            }
        }
        int n = 0;
        for (int b = 0; b < 256; b++) {
            if (!printable[b]) {
                BYTE_CHAR[b] = (char) (256 + n++);
                BYTE_ORDER[k++] = b;
            }
        }
        for (int b = 0; b < 256; b++) CHAR_BYTE[BYTE_CHAR[b]] = b;
    }

    /** The character byte {@code b} is written as in vocabulary strings. */
    static char byteChar(int b) {
        return BYTE_CHAR[b & 0xFF];
    }

    /** The byte the vocabulary character {@code c} stands for, or -1 if it is none. */
    static int charByte(char c) {
        return c < CHAR_BYTE.length ? CHAR_BYTE[c] : -1;
    }

    /** The 256 byte symbols in vocabulary order (bytes_to_unicode().values()). */
    static String[] byteSymbols() {
        String[] s = new String[256];
        for (int i = 0; i < 256; i++) s[i] = String.valueOf(BYTE_CHAR[BYTE_ORDER[i]]);
        return s;
    }

    private final Map<String, Integer> encoder;
    private final String[] decoder; // id -> token, null where no token has that id
    private final int[] byteId = new int[256], byteEndId = new int[256];
    private final PairRanks ranks;
    private final int[] mergeFirst, mergeSecond, mergeResult; // by rank

    /**
     * @param encoder token → id (not copied: the caller hands it over)
     * @param merges  the merge pairs, best first
     * @throws IllegalArgumentException naming what is missing: a byte symbol, or a merge part or
     *                                  result that is not in the vocabulary (the message gives the merge's index)
     */
    ClipBpe(Map<String, Integer> encoder, List<String[]> merges) {
        this.encoder = encoder;
        int maxId = -1;
        for (int id : encoder.values()) maxId = Math.max(maxId, id);
        if (maxId >= 2L * encoder.size() + 1024) {
            throw new IllegalArgumentException("ids go up to " + maxId + " for " + encoder.size() + " tokens: not a CLIP vocabulary");
        }
        decoder = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : encoder.entrySet()) {
            if (e.getValue() < 0) throw new IllegalArgumentException("token " + quote(e.getKey()) + " has a negative id " + e.getValue());
            if (decoder[e.getValue()] != null) {
                throw new IllegalArgumentException("tokens " + quote(decoder[e.getValue()]) + " and " + quote(e.getKey()) + " have the same id " + e.getValue());
            }
            decoder[e.getValue()] = e.getKey();
        }
        for (int b = 0; b < 256; b++) {
            byteId[b] = require(String.valueOf(BYTE_CHAR[b]), "byte symbol");
            byteEndId[b] = require(BYTE_CHAR[b] + END_OF_WORD, "byte symbol");
        }
        int n = merges.size();
        mergeFirst = new int[n];
        mergeSecond = new int[n];
        mergeResult = new int[n];
        ranks = new PairRanks(n);
        for (int r = 0; r < n; r++) {
            String[] m = merges.get(r);
            mergeFirst[r] = require(m[0], r, m, "first part");
            mergeSecond[r] = require(m[1], r, m, "second part");
            mergeResult[r] = require(m[0] + m[1], r, m, "result");
            ranks.put(mergeFirst[r], mergeSecond[r], r); // a repeated pair keeps its last rank, like Python's dict
        }
    }

    private int require(String token, int rank, String[] merge, String part) {
        Integer id = encoder.get(token);
        if (id == null) require(token, "merge " + (rank + 1) + " (" + quote(merge[0] + " " + merge[1]) + "): its " + part);
        return id;
    }

    private int require(String token, String what) {
        Integer id = encoder.get(token);
        if (id == null) throw new IllegalArgumentException(what + " " + quote(token) + " is not in the vocabulary");
        return id;
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(c -> {
            if (c < 0x20 || c == 0x7F) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.append('"').toString();
    }

    /** The id of {@code token}, or -1. */
    int id(String token) {
        Integer id = encoder.get(token);
        return id == null ? -1 : id;
    }

    /** The token of {@code id}, or null if no token has it. */
    String token(int id) {
        return id >= 0 && id < decoder.length ? decoder[id] : null;
    }

    int size() {
        return encoder.size();
    }

    int numMerges() {
        return mergeResult.length;
    }

    /** The BPE ids of one pre-token given as its UTF-8 bytes (at least one). */
    int[] word(byte[] utf8) {
        int len = utf8.length;
        int[] w = new int[len];
        for (int i = 0; i < len - 1; i++) w[i] = byteId[utf8[i] & 0xFF];
        w[len - 1] = byteEndId[utf8[len - 1] & 0xFF];
        while (len > 1) {
            int best = Integer.MAX_VALUE;
            for (int i = 0; i < len - 1; i++) {
                int r = ranks.get(w[i], w[i + 1]);
                if (r >= 0 && r < best) best = r;
            }
            if (best == Integer.MAX_VALUE) break;
            int first = mergeFirst[best], second = mergeSecond[best], merged = mergeResult[best];
            // every occurrence, left to right, without overlaps
            int j = 0;
            for (int i = 0; i < len; ) {
                if (i < len - 1 && w[i] == first && w[i + 1] == second) {
                    w[j++] = merged;
                    i += 2;
                } else {
                    w[j++] = w[i++];
                }
            }
            len = j;
        }
        return len == w.length ? w : Arrays.copyOf(w, len);
    }

    /** Open-addressing map (first id, second id) → rank. */
    private static final class PairRanks {
        private final long[] keys;
        private final int[] values;
        private final int mask;

        PairRanks(int expected) {
            int cap = Integer.highestOneBit(Math.max(4, expected * 2 + 1)) << 1;
            keys = new long[cap];
            values = new int[cap];
            Arrays.fill(values, -1);
            mask = cap - 1;
        }

        private static long key(int a, int b) {
            return ((long) a << 32) | (b & 0xFFFFFFFFL);
        }

        private static int hash(long k) {
            k *= 0x9E3779B97F4A7C15L;
            return (int) (k ^ (k >>> 29));
        }

        void put(int a, int b, int rank) {
            long k = key(a, b);
            for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
                if (values[i] < 0 || keys[i] == k) {
                    keys[i] = k;
                    values[i] = rank;
                    return;
                }
            }
        }

        int get(int a, int b) {
            long k = key(a, b);
            for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
                if (values[i] < 0) return -1;
                if (keys[i] == k) return values[i];
            }
        }
    }
}
