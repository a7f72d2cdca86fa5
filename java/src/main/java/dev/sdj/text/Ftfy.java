package dev.sdj.text;

import java.text.Normalizer;
import java.util.regex.Pattern;

/**
 * ftfy 6.1.1's {@code fix_text} with its default configuration, as CLIP's tokenizer calls it,
 * except for {@code fix_encoding} (mojibake detection and repair, e.g. "cafÃ©" → "café"), which is
 * not implemented: text that looks like mojibake is left as typed. Everything else is done as ftfy
 * does it, in ftfy's order, on each line separately and repeated until nothing changes:
 * unescape_html (off from the first line containing '&lt;' on), fix_c1_controls,
 * fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates,
 * remove_terminal_escapes, remove_control_chars, NFC.
 *
 * <p>Unicode data (NFC, NFKC for the width map, letter classes) is the JDK's, a newer Unicode
 * version than CPython 3.11's 14.0; that only matters for characters assigned since.
 */
final class Ftfy {
    private Ftfy() {}

    /** ftfy's max_decode_length: longer lines are fixed in pieces of this many characters. */
    private static final int MAX_DECODE_LENGTH = 1_000_000;

    // ftfy fixes.ANSI_RE; Python's \d is any decimal digit
    private static final Pattern ANSI = Pattern.compile("\u001b\\[((?:\\p{Nd}|;)*)([a-zA-Z])");

    /** Windows-1252 as ftfy's "sloppy-windows-1252" reads 0x80–0x9F (undefined bytes stay themselves). */
    private static final char[] CP1252_80 = {
        '\u20ac', '\u0081', '\u201a', '\u0192', '\u201e', '\u2026', '\u2020', '\u2021',
        '\u02c6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008d', '\u017d', '\u008f',
        '\u0090', '\u2018', '\u2019', '\u201c', '\u201d', '\u2022', '\u2013', '\u2014',
        '\u02dc', '\u2122', '\u0161', '\u203a', '\u0153', '\u009d', '\u017e', '\u0178',
    };

    /** The Windows-1252 character of byte {@code b} in 0x80–0x9F. */
    static char cp1252(int b) {
        return CP1252_80[b - 0x80];
    }

    /** ftfy fix_text(text) with the default config, less fix_encoding. */
    static String fixText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean unescapeHtml = true; // "auto": until a segment contains '<'
        int pos = 0;
        while (pos < text.length()) {
            int textbreak = text.indexOf('\n', pos) + 1;
            if (textbreak == 0) textbreak = text.length();
            if (textbreak - pos > MAX_DECODE_LENGTH) {
                textbreak = pos + MAX_DECODE_LENGTH; // (Python counts code points: never split a pair)
                if (Character.isLowSurrogate(text.charAt(textbreak)) && Character.isHighSurrogate(text.charAt(textbreak - 1))) textbreak++;
            }
            String segment = text.substring(pos, textbreak);
            if (unescapeHtml && segment.indexOf('<') >= 0) unescapeHtml = false;
            out.append(fixSegment(segment, unescapeHtml));
            pos = textbreak;
        }
        return out.toString();
    }

    /** ftfy fix_and_explain: every fixer in order, again until the text no longer changes. */
    private static String fixSegment(String text, boolean unescapeHtml) {
        while (true) {
            String orig = text;
            if (unescapeHtml && text.indexOf('&') >= 0) text = HtmlUnescape.ftfy(text);
            // fix_encoding: not implemented (see the class comment)
            text = fixC1Controls(text);
            text = fixLatinLigatures(text);
            text = fixCharacterWidth(text);
            text = uncurlQuotes(text);
            text = fixLineBreaks(text);
            text = fixSurrogates(text);
            text = removeTerminalEscapes(text);
            text = removeControlChars(text);
            if (!Normalizer.isNormalized(text, Normalizer.Form.NFC)) text = Normalizer.normalize(text, Normalizer.Form.NFC);
            if (text.equals(orig)) return text;
        }
    }

    static String fixC1Controls(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x80 && c <= 0x9F) {
                if (out == null) out = new StringBuilder(text).delete(i, text.length());
                out.append(cp1252(c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }

    static String fixLatinLigatures(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String rep = ligature(c);
            if (rep != null && out == null) out = new StringBuilder(text).delete(i, text.length());
            if (out != null) {
                if (rep != null) out.append(rep);
                else out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }

    /** ftfy chardata.LIGATURES. */
    private static String ligature(char c) {
        return switch (c) {
            case '\u0132' -> "IJ";
            case '\u0133' -> "ij";
            case '\u0149' -> "\u02bcn";
            case '\u01f1' -> "DZ";
            case '\u01f2' -> "Dz";
            case '\u01f3' -> "dz";
            case '\u01c4' -> "D\u017d";
            case '\u01c5' -> "D\u017e";
            case '\u01c6' -> "d\u017e";
            case '\u01c7' -> "LJ";
            case '\u01c8' -> "Lj";
            case '\u01c9' -> "lj";
            case '\u01ca' -> "NJ";
            case '\u01cb' -> "Nj";
            case '\u01cc' -> "nj";
            case '\ufb00' -> "ff";
            case '\ufb01' -> "fi";
            case '\ufb02' -> "fl";
            case '\ufb03' -> "ffi";
            case '\ufb04' -> "ffl";
            case '\ufb05' -> "\u017ft";
            case '\ufb06' -> "st";
            default -> null;
        };
    }

    /** ftfy chardata.WIDTH_MAP: U+3000 → ' ', and U+FF01–U+FFEF → their NFKC form where that differs. */
    private static final String[] WIDTH_MAP = widthMap();

    private static String[] widthMap() {
        String[] map = new String[0xFFF0 - 0xFF01];
        for (int c = 0xFF01; c < 0xFFF0; c++) {
            String s = String.valueOf((char) c), alt = Normalizer.normalize(s, Normalizer.Form.NFKC);
            if (!alt.equals(s)) map[c - 0xFF01] = alt;
        }
        return map;
    }

    private static String width(char c) {
        if (c == '\u3000') return " ";
        return c >= 0xFF01 && c < 0xFFF0 ? WIDTH_MAP[c - 0xFF01] : null;
    }

    static String fixCharacterWidth(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String rep = width(c);
            if (rep != null && out == null) out = new StringBuilder(text).delete(i, text.length());
            if (out != null) {
                if (rep != null) out.append(rep);
                else out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }

    /** [\u02bc\u2018-\u201b] → ', [\u201c-\u201f] → ". */
    static String uncurlQuotes(String text) {
        char[] cs = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            char rep = c == '\u02bc' || (c >= '\u2018' && c <= '\u201b') ? '\'' : c >= '\u201c' && c <= '\u201f' ? '"' : c;
            if (rep != c) {
                if (cs == null) cs = text.toCharArray();
                cs[i] = rep;
            }
        }
        return cs == null ? text : new String(cs);
    }

    static String fixLineBreaks(String text) {
        return text.replace("\r\n", "\n").replace('\r', '\n').replace('\u2028', '\n').replace('\u2029', '\n')
                .replace('\u0085', '\n');
    }

    /**
     * Unpaired surrogates → U+FFFD. (A Java string holds a paired surrogate as the one code point
     * ftfy would have joined it into.)
     */
    static String fixSurrogates(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean paired = Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1));
            if (paired) {
                if (out != null) out.append(c).append(text.charAt(i + 1));
                i++;
                continue;
            }
            boolean lone = Character.isSurrogate(c);
            if (lone && out == null) out = new StringBuilder(text).delete(i, text.length());
            if (out != null) out.append(lone ? '\uFFFD' : c);
        }
        return out == null ? text : out.toString();
    }

    static String removeTerminalEscapes(String text) {
        return text.indexOf('\u001b') < 0 ? text : ANSI.matcher(text).replaceAll("");
    }

    /** ftfy chardata.CONTROL_CHARS: removed. */
    private static boolean isControl(char c) {
        return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F)
                || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    }

    static String removeControlChars(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean drop = isControl(c);
            if (drop && out == null) out = new StringBuilder(text).delete(i, text.length());
            if (out != null && !drop) out.append(c);
        }
        return out == null ? text : out.toString();
    }
}
