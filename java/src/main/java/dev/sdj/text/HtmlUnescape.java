package dev.sdj.text;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two HTML unescapes of CLIP's text cleaning, character for character as in Python:
 * {@link #python} is CPython 3.11's {@code html.unescape}, {@link #ftfy} is ftfy 6.1.1's
 * {@code fixes.unescape_html}. The HTML5 entity table is CPython's {@code html.entities.html5},
 * shipped as {@code html5-entities.txt}.
 */
final class HtmlUnescape {
    private HtmlUnescape() {}

    // html._charref (declared before the tables: building ftfy's table runs python())
    private static final Pattern CHARREF = Pattern.compile("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
    // ftfy chardata.HTML_ENTITY_RE
    private static final Pattern FTFY_ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");

    /** html.entities.html5: name (with its ';' where it has one, a few legacy names without) → text. */
    private static final Map<String, String> HTML5 = readTable();

    /** ftfy's chardata.HTML_ENTITIES: "&name;" for every name ending in ';', plus upper-cased ones. */
    private static final Map<String, String> FTFY_ENTITIES = ftfyEntities();

    /** CPython html.unescape: named and numeric character references as the HTML5 standard reads them. */
    static String python(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = CHARREF.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        while (m.find()) m.appendReplacement(out, Matcher.quoteReplacement(replaceCharref(m.group(1))));
        m.appendTail(out);
        return out.toString();
    }

    /**
     * ftfy's unescape_html: only references that end in ';' (so "this&not that" stays), names of
     * the HTML5 table and all-caps forms of the unambiguous lower-case ones ("&EACUTE;" → "É").
     */
    static String ftfy(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = FTFY_ENTITY.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        while (m.find()) {
            String text = m.group();
            String rep = FTFY_ENTITIES.get(text);
            if (rep == null) {
                rep = text;
                if (text.startsWith("&#")) {
                    String unescaped = python(text);
                    // "If html.unescape only decoded part of the string, that's not what we want."
                    if (unescaped.indexOf(';') < 0) rep = unescaped;
                }
            }
            m.appendReplacement(out, Matcher.quoteReplacement(rep));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String replaceCharref(String s) {
        if (s.charAt(0) == '#') {
            boolean hex = s.charAt(1) == 'x' || s.charAt(1) == 'X';
            String digits = stripSemicolons(s.substring(hex ? 2 : 1));
            int num = parseCapped(digits, hex ? 16 : 10);
            String invalid = invalidCharref(num);
            if (invalid != null) return invalid;
            if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return "\uFFFD";
            if (isInvalidCodepoint(num)) return "";
            return Character.toString(num);
        }
        String named = HTML5.get(s);
        if (named != null) return named;
        // the longest name the reference starts with (as the standard defines it)
        for (int x = s.length() - 1; x > 1; x--) {
            named = HTML5.get(s.substring(0, x));
            if (named != null) return named + s.substring(x);
        }
        return "&" + s;
    }

    private static String stripSemicolons(String s) {
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == ';') end--;
        return s.substring(0, end);
    }

    /** The number, or Integer.MAX_VALUE for anything above 0x10FFFF (Python's int has no limit). */
    private static int parseCapped(String digits, int radix) {
        long v = 0;
        for (int i = 0; i < digits.length(); i++) {
            v = v * radix + Character.digit(digits.charAt(i), radix);
            if (v > 0x10FFFF) return Integer.MAX_VALUE;
        }
        return (int) v;
    }

    /** html._invalid_charrefs: NUL, CR and the Windows-1252 reading of 0x80–0x9F. */
    private static String invalidCharref(int num) {
        if (num == 0x00) return "\uFFFD";
        if (num == 0x0D) return "\r";
        if (num >= 0x80 && num <= 0x9F) return String.valueOf(Ftfy.cp1252(num));
        return null;
    }

    /** html._invalid_codepoints: referenced, they decode to nothing. */
    private static boolean isInvalidCodepoint(int c) {
        return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || (c >= 0x7F && c <= 0x9F)
                || (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
    }

    private static Map<String, String> readTable() {
        Map<String, String> table = new LinkedHashMap<>(4096);
        try (InputStream in = HtmlUnescape.class.getResourceAsStream("html5-entities.txt")) {
            if (in == null) throw new IllegalStateException("resource dev/sdj/text/html5-entities.txt is missing from sdj-core");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                int tab = line.indexOf('\t');
                StringBuilder text = new StringBuilder(2);
                for (String cp : line.substring(tab + 1).split(" ")) text.appendCodePoint(Integer.parseInt(cp, 16));
                table.put(line.substring(0, tab), text.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading dev/sdj/text/html5-entities.txt", e);
        }
        return table;
    }

    /** ftfy chardata._build_html_entities. */
    private static Map<String, String> ftfyEntities() {
        Map<String, String> entities = new HashMap<>(4096);
        for (Map.Entry<String, String> e : HTML5.entrySet()) {
            String name = e.getKey(), text = e.getValue();
            if (!name.endsWith(";")) continue;
            entities.put("&" + name, text);
            if (name.equals(name.toLowerCase(Locale.ROOT))) {
                String upper = "&" + name.toUpperCase(Locale.ROOT);
                if (python(upper).equals(upper)) entities.put(upper, text.toUpperCase(Locale.ROOT));
            }
        }
        return entities;
    }
}
