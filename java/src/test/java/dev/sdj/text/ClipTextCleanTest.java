package dev.sdj.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * CLIP's text cleaning (ftfy 6.1.1 fix_text, html.unescape twice, whitespace, lower case): each
 * expected value was computed with openai/CLIP's simple_tokenizer.py and ftfy 6.1.1.
 */
class ClipTextCleanTest {

    private static void cleansTo(String expected, String text) {
        assertEquals(expected, ClipTokenizer.clean(text), () -> "clean(" + text + ")");
    }

    @Test
    void htmlEntities() {
        cleansTo("tom & jerry", "tom &amp;amp;amp; jerry"); // ftfy repeats until nothing changes, then html.unescape twice
        cleansTo("<b>&amp;</b>", "<b>&amp;amp;amp;</b>"); // a line with '<': ftfy leaves entities alone
        cleansTo("line1 line2 <3 &", "line1\r\nline2 &lt;3\n&amp;amp;"); // '<' only appears once decoded
        cleansTo("this\u00ac that", "this&not that"); // html.unescape decodes legacy names without ';'
        cleansTo("p\u00e9rez", "P&EACUTE;REZ"); // ftfy's all-caps entities
        cleansTo("\u00acit; \u20ac \ufffdx", "&notit; &#x80; &#0;x");
    }

    @Test
    void ftfyFixes() {
        cleansTo("loud noises", "ＬＯＵＤ　ＮＯＩＳＥＳ"); // full width and the ideographic space
        cleansTo("i'm blue", "\u001b[36;44mI'm blue\u001b[0m"); // terminal escapes
        cleansTo("wait\u2026", "wait\u0085"); // a C1 control read as Windows-1252
        cleansTo("fluffiest ij", "\ufb02u\ufb03est \u0133"); // Latin ligatures
        cleansTo("it's 'quoted'", "it\u2019s \u2018quoted\u2019");
        cleansTo("bom", "\ufeffbom\u0000\u0007"); // BOM and control characters removed
        cleansTo("\u00e9", "e\u0301"); // NFC
    }

    @Test
    void whitespaceAndLowerCaseAsPython() {
        cleansTo("a b c\u200bd", "a\u00a0b\u2009c\u200bd"); // U+200B is not whitespace to Python
        // Python's Final_Sigma rule, not Java's: ς before '-', σ before "'s"
        cleansTo("\u00e9 \u03bf\u03b4\u03bf\u03c2-x \u03bf\u03b4\u03bf\u03c3's i\u0307", "e\u0301 \u039f\u0394\u039f\u03a3-x \u039f\u0394\u039f\u03a3's \u0130");
        assertArrayEquals(new int[] {4166, 138, 123, 138, 112, 138, 123, 139, 480, 268, 343, 138, 123, 138, 112, 138, 123, 139, 481, 568, 328, 16384},
                ClipTokenizer.load().bpe("e\u0301 \u039f\u0394\u039f\u03a3-x \u039f\u0394\u039f\u03a3's \u0130"));
    }

    @Test
    void pythonHtmlUnescape() {
        assertEquals("&amp;", HtmlUnescape.python("&amp;amp;"));
        assertEquals("\u00acit;", HtmlUnescape.python("&notit;")); // the longest known prefix
        assertEquals("\u20ac", HtmlUnescape.python("&#x80;"));
        assertEquals("\ufffd\ufffd\ufffd", HtmlUnescape.python("&#0;&#xD800;&#1114112;"));
        assertEquals("", HtmlUnescape.python("&#1;&#xFFFF;"));
        assertEquals("AB", HtmlUnescape.python("&#65&#x42"));
        assertEquals("&nosuch;", HtmlUnescape.python("&nosuch;"));
        assertEquals("\u2233", HtmlUnescape.python("&CounterClockwiseContourIntegral;"));
        assertEquals("\u2268\ufe00", HtmlUnescape.python("&lvertneqq;")); // two code points
    }

    @Test
    void ftfyHtmlUnescape() {
        assertEquals("this&not that", HtmlUnescape.ftfy("this&not that")); // needs the ';'
        assertEquals("\u00c9 \u00d1 &nTILDE;", HtmlUnescape.ftfy("&EACUTE; &NTILDE; &nTILDE;"));
        assertEquals("A &#65", HtmlUnescape.ftfy("&#65; &#65"));
        assertEquals("&amp;", HtmlUnescape.ftfy("&amp;amp;"));
        assertEquals("SS", HtmlUnescape.ftfy("&SZLIG;")); // ß.upper()
    }
}
