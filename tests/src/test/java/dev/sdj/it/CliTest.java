package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The CLI in-process, as ./sdj runs it. */
class CliTest {

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void infoListsTensorsDtypesShapesAndTotals() throws Exception {
        Path file = Golden.root().resolve("checkpoint-ldm/checkpoint-ldm-tiny-fp16.safetensors");
        Run r = run("info", file.toString());
        assertEquals(0, r.code(), r.err());
        // 929 entries in the header, one of them __metadata__ (format=pt).
        assertTrue(r.out().contains("tensors:  928"), r.out());
        assertTrue(r.out().contains("format = pt"), r.out());
        // Data bytes: the file minus the 8-byte length and the header (the reference writer packs tensors).
        long headerLen;
        try (var ch = Files.newByteChannel(file)) {
            var buf = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(buf);
            headerLen = buf.flip().getLong();
        }
        long data = Files.size(file) - 8 - headerLen;
        assertTrue(r.out().contains(String.format("(%,d bytes)", data)), r.out());
        assertTrue(r.out().contains("F16   928 tensors"), r.out());
        // One tensor line: the U-Net's conv_in in LDM naming, OIHW.
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("model.diffusion_model.input_blocks.0.0.weight") && l.contains("F16")),
                r.out());
    }

    @Test
    void infoOnACorruptFileFailsWithTheFileName(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("broken.safetensors");
        Files.write(bad, new byte[] {1, 2, 3});
        Run r = run("info", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("broken.safetensors"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void everyCommandHasHelp() {
        CommandLine cl = Main.commandLine();
        for (String sub : cl.getSubcommands().keySet()) {
            if (sub.equals("help")) continue;
            Run r = run(sub, "--help");
            assertEquals(0, r.code(), sub + ": " + r.err());
            assertTrue(r.out().contains("Usage: sdj " + sub), sub + ": " + r.out());
        }
        Run top = run("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("info"), top.out());
    }
}
