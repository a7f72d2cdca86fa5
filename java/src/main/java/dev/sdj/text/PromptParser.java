package dev.sdj.text;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's prompt attention syntax: {@code parse_prompt_attention} of the webui's
 * {@code modules/prompt_parser.py}, replicated step by step (same regexes, same result list, same
 * bracket stacks, same multiplication order, same merging pass), so that texts are identical and
 * weights are the same IEEE double products Python computes. The syntax and what the result means
 * downstream are described in {@link PromptWeighting}.
 *
 * <pre>
 * parse("a (house:1.3) [on] ((hill)) BREAK sky")
 *   = [("a ", 1.0), ("house", 1.3), (" ", 1.0), ("on", 0.9090909090909091), (" ", 1.0),
 *      ("hill", 1.2100000000000002), ("", 1.0), ("BREAK", -1.0), ("sky", 1.0)]
 * </pre>
 *
 * <p>The algorithm: the prompt is cut into tokens by {@code re_attention} (escapes {@code \( \) \[ \]
 * \\}, a lone {@code \}, {@code (}, {@code [}, {@code :w)} with optional whitespace around w,
 * {@code )}, {@code ]}, a run of ordinary text, a lone {@code :}). An escape appends its second
 * character as text (a lone backslash appends nothing, "" ). {@code (} and {@code [} push the current
 * length of the result list; {@code :w)} pops the innermost open round bracket and multiplies every
 * entry from there on by {@code float(w)}; {@code )} and {@code ]} pop theirs and multiply by 1.1 and
 * by 1/1.1. A closing bracket with nothing open, and {@code :w)} with no open round bracket, are plain
 * text. Plain text is split by {@code re_break} ({@code \s*\bBREAK\b\s*}) and every split point
 * appends {@code ("BREAK", -1)}. Brackets still open at the end apply their multiplier to the rest
 * (round ones first, in opening order, then square ones). An empty result becomes {@code [("", 1.0)]},
 * and adjacent entries of equal weight (Python {@code ==}) are merged.
 *
 * <p>Character classes are Python's for str patterns: {@code \s} is {@code str.isspace()} (which
 * includes U+001C…U+001F), {@code \d} is any Unicode decimal digit (Nd; {@code float()} reads those
 * too, e.g. "١.٥" is 1.5), and the word characters of {@code \b} are letters, numbers and "_"
 * (categories L*, N*), evaluated with the JDK's Unicode tables.
 *
 * <p>A weight that {@code float()} rejects ({@code (a:1.2.3)}, {@code (a:.)}) makes A1111 raise
 * {@code ValueError}; {@link #parse} throws {@link BadWeightException} with Python's message. A
 * weight written {@code 1e2} does not match the weight pattern at all, so {@code (a:1e2)} is the text
 * "a:1e2" at 1.1.
 */
public final class PromptParser {
    private PromptParser() {}

    /** One entry of the result: a piece of prompt text and its weight; {@code ("BREAK", -1)} marks a BREAK. */
    public record Fragment(String text, double weight) {
        public static final Fragment BREAK = new Fragment("BREAK", -1);

        /**
         * True for the BREAK marker exactly as A1111's chunker tests it ({@code text == 'BREAK' and
         * weight == -1}): a BREAK inside brackets whose factor is not 1 has had its weight multiplied
         * and is then ordinary text.
         */
        public boolean isBreak() {
            return text.equals("BREAK") && weight == -1;
        }
    }

    /** A1111 raises {@code ValueError} here: a weight that matched {@code [+-]?[.\d]+} but is no float. */
    public static final class BadWeightException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        private final String weight;

        BadWeightException(String weight) {
            // Python's str.__repr__ of such a string (digits, '.', '+', '-') is always '...'.
            super("could not convert string to float: '" + weight + "'");
            this.weight = weight;
        }

        /** The text that failed to convert. */
        public String weight() {
            return weight;
        }

        /** The exception as Python prints it: {@code ValueError: could not convert string to float: '1.2.3'}. */
        public String pythonError() {
            return "ValueError: " + getMessage();
        }
    }

    // Python's \s for str patterns (str.isspace), \d (Nd) and \w (str.isalnum or '_').
    private static final String WS = "[\\t\\n\\x0B\\f\\r\\x1C-\\x1F \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
    private static final String DIGIT = "\\p{Nd}";
    private static final String WORD = "[\\p{L}\\p{N}_]";

    /**
     * {@code re_attention}, alternative for alternative in A1111's order (Python's and Java's
     * alternation both take the first alternative that matches):
     * <pre>
     * \\\( | \\\) | \\\[ | \\] | \\\\ | \\ | \( | \[ | :\s*([+-]?[.\d]+)\s*\) | \) | ] | [^\\()\[\]:]+ | :
     * </pre>
     */
    static final Pattern RE_ATTENTION = Pattern.compile(String.join("|",
            "\\\\\\(", "\\\\\\)", "\\\\\\[", "\\\\]", "\\\\\\\\", "\\\\", "\\(", "\\[",
            ":" + WS + "*([+-]?[." + DIGIT + "]+)" + WS + "*\\)",
            "\\)", "]", "[^\\\\()\\[\\]:]+", ":"));

    /**
     * {@code re_break = \s*\bBREAK\b\s*}. "BREAK" begins and ends with word characters, so its
     * \b's are "no word character before" and "none after". The one before is checked by hand in
     * {@link #splitBreak}: Java's lookbehind misreads a supplementary character before the match
     * (e.g. U+1D400 in "𝐀BREAK").
     */
    static final Pattern RE_BREAK = Pattern.compile(WS + "*(BREAK)(?!" + WORD + ")" + WS + "*");
    private static final Pattern WORD_CHAR = Pattern.compile(WORD);

    private static final double ROUND_BRACKET_MULTIPLIER = 1.1;
    private static final double SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

    /** A mutable entry of {@code res}, as A1111's {@code [text, weight]} lists are. */
    private static final class Entry {
        final StringBuilder text;
        double weight;

        Entry(String text, double weight) {
            this.text = new StringBuilder(text);
            this.weight = weight;
        }
    }

    /**
     * {@code parse_prompt_attention(text)}: the prompt as fragments with their weights, runs of equal
     * weight merged, BREAK as {@code ("BREAK", -1)}; never empty (an empty prompt gives {@code [("", 1.0)]}).
     *
     * @throws BadWeightException where A1111 raises ValueError (a weight such as "1.2.3")
     */
    public static List<Fragment> parse(String prompt) {
        List<Entry> res = new ArrayList<>();
        List<Integer> roundBrackets = new ArrayList<>();
        List<Integer> squareBrackets = new ArrayList<>();

        Matcher m = RE_ATTENTION.matcher(prompt);
        while (m.find()) {
            String text = m.group();
            String weight = m.group(1);

            if (text.startsWith("\\")) {
                res.add(new Entry(text.substring(1), 1.0));
            } else if (text.equals("(")) {
                roundBrackets.add(res.size());
            } else if (text.equals("[")) {
                squareBrackets.add(res.size());
            } else if (weight != null && !roundBrackets.isEmpty()) {
                multiplyRange(res, roundBrackets.removeLast(), pythonFloat(weight));
            } else if (text.equals(")") && !roundBrackets.isEmpty()) {
                multiplyRange(res, roundBrackets.removeLast(), ROUND_BRACKET_MULTIPLIER);
            } else if (text.equals("]") && !squareBrackets.isEmpty()) {
                multiplyRange(res, squareBrackets.removeLast(), SQUARE_BRACKET_MULTIPLIER);
            } else {
                List<String> parts = splitBreak(text);
                for (int i = 0; i < parts.size(); i++) {
                    if (i > 0) res.add(new Entry("BREAK", -1));
                    res.add(new Entry(parts.get(i), 1.0));
                }
            }
        }

        for (int pos : roundBrackets) multiplyRange(res, pos, ROUND_BRACKET_MULTIPLIER);
        for (int pos : squareBrackets) multiplyRange(res, pos, SQUARE_BRACKET_MULTIPLIER);

        if (res.isEmpty()) res.add(new Entry("", 1.0));

        // merge runs of identical weights
        int i = 0;
        while (i + 1 < res.size()) {
            if (res.get(i).weight == res.get(i + 1).weight) {
                res.get(i).text.append(res.get(i + 1).text);
                res.remove(i + 1);
            } else {
                i++;
            }
        }

        List<Fragment> out = new ArrayList<>(res.size());
        for (Entry e : res) out.add(new Fragment(e.text.toString(), e.weight));
        return List.copyOf(out);
    }

    private static void multiplyRange(List<Entry> res, int start, double multiplier) {
        for (int p = start; p < res.size(); p++) res.get(p).weight *= multiplier;
    }

    /** Python's {@code re.split(re_break, text)}: the pieces between matches, leading and trailing empty ones kept. */
    static List<String> splitBreak(String text) {
        List<String> parts = new ArrayList<>();
        Matcher m = RE_BREAK.matcher(text);
        int last = 0, from = 0;
        while (from <= text.length() && m.find(from)) {
            // A match at m.start() needs \b before "BREAK": whitespace consumed before it, or no word
            // character just before it. Otherwise there is no match at m.start() (the \s* cannot give
            // anything back to help), and the search goes on from the next position, as Python's does.
            int q = m.start(1);
            if (q == m.start() && q > 0 && WORD_CHAR.matcher(Character.toString(text.codePointBefore(q))).matches()) {
                from = m.start() + 1;
                continue;
            }
            parts.add(text.substring(last, m.start()));
            last = from = m.end();
        }
        parts.add(text.substring(last));
        return parts;
    }

    /**
     * Python's {@code float(s)} for what the weight group can hold ({@code [+-]?[.\d]+}, \d any
     * Unicode decimal digit): a sign, then digits with at most one '.', and at least one digit.
     * Correctly rounded, as both Python and {@link Double#parseDouble} are.
     */
    static double pythonFloat(String s) {
        StringBuilder ascii = new StringBuilder(s.length());
        int digits = 0, dots = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if ((cp == '+' || cp == '-') && ascii.isEmpty()) {
                ascii.append((char) cp);
            } else if (cp == '.') {
                dots++;
                ascii.append('.');
            } else {
                int d = Character.getType(cp) == Character.DECIMAL_DIGIT_NUMBER ? Character.digit(cp, 10) : -1;
                if (d < 0) throw new BadWeightException(s);
                digits++;
                ascii.append((char) ('0' + d));
            }
        }
        if (digits == 0 || dots > 1) throw new BadWeightException(s);
        return Double.parseDouble(ascii.toString());
    }
}
