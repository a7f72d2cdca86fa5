package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsException;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.SafeTensorsWriter;
import dev.sdj.io.checkpoint.Checkpoint;
import dev.sdj.io.checkpoint.CheckpointException;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.model.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a checkpoint can be unusable fails with a message naming the file and, where one is at fault, the key. */
class CheckpointErrorsTest {
    private static final Path GOLDEN_CKPT = Golden.root().resolve("checkpoint-ldm/checkpoint-ldm-tiny.safetensors");
    private static final Checkpoint.Options TINY = Checkpoint.Options.DEFAULT
            .withUnetConfig(Golden.root().resolve("unet-sd15-tiny/config.json"))
            .withVaeConfig(Golden.root().resolve("vae-tiny/config.json"));

    @TempDir
    Path dir;
    private int edits;

    /** A copy of the golden LDM checkpoint with its tensors edited. */
    private Path edited(Consumer<Map<String, Tensor>> edit) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(GOLDEN_CKPT)) {
            for (String n : f.names()) t.put(n, CheckpointFixtures.copy(f.tensor(n)));
        }
        edit.accept(t);
        Path file = dir.resolve("edited-" + ++edits + ".safetensors");
        SafeTensorsWriter.write(file, t, null);
        return file;
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
    }

    @Test
    void missingTensor() throws IOException {
        String key = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight";
        Path file = edited(t -> t.remove(key));
        try (CpuBackend cpu = new CpuBackend(); Checkpoint ck = Checkpoint.open(file, TINY)) {
            WeightsException e = assertThrows(WeightsException.class, () -> ck.loadUnet(cpu));
            assertMentions(e, file.toString(), key, "missing", "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight");
            assertEquals(key, e.tensor());
            // sdj info lists it too
            assertTrue(ck.report().components().get(0).missing().get(0).startsWith(key), ck.report().components().get(0).missing().toString());
        }
        String vaeKey = "first_stage_model.decoder.mid.attn_1.q.weight";
        Path noVaeQ = edited(t -> t.remove(vaeKey));
        try (CpuBackend cpu = new CpuBackend(); Checkpoint ck = Checkpoint.open(noVaeQ, TINY)) {
            assertMentions(assertThrows(WeightsException.class, () -> ck.loadVae(cpu)), vaeKey, "missing", "to_q.weight");
        }
    }

    @Test
    void wrongShape() throws IOException {
        String key = "model.diffusion_model.out.2.weight";
        Path file = edited(t -> t.put(key, Tensor.of(new float[4 * 16], 4, 16, 1, 1)));
        try (CpuBackend cpu = new CpuBackend(); Checkpoint ck = Checkpoint.open(file, TINY)) {
            WeightsException e = assertThrows(WeightsException.class, () -> ck.loadUnet(cpu));
            assertMentions(e, file.toString(), key, "[4, 16, 1, 1]", "[4, 16, 3, 3]", "conv_out.weight");
        }
        // A VAE attention weight that is neither [C,C,1,1] nor [C,C]: the message shows the file's shape and the view.
        String q = "first_stage_model.encoder.mid.attn_1.q.weight";
        Path vae = edited(t -> t.put(q, Tensor.of(new float[32 * 16], 32, 16, 1, 1)));
        try (CpuBackend cpu = new CpuBackend(); Checkpoint ck = Checkpoint.open(vae, TINY)) {
            assertMentions(assertThrows(WeightsException.class, () -> ck.loadVae(cpu)), q, "[32, 16, 1, 1]", "seen as [32, 16]", "[32, 32]");
        }
    }

    @Test
    void unexpectedTensor() throws IOException {
        String key = "model.diffusion_model.output_blocks.3.1.transformer_blocks.7.norm1.weight";
        Path file = edited(t -> t.put(key, Tensor.of(new float[32], 32)));
        try (CpuBackend cpu = new CpuBackend(); Checkpoint ck = Checkpoint.open(file, TINY)) {
            assertMentions(assertThrows(WeightsException.class, () -> ck.loadUnet(cpu)), file.toString(), key, "not a parameter",
                    "unet-sd15-tiny/config.json");
            assertEquals(java.util.List.of(key), ck.report().components().get(0).unexpected());
        }
    }

    @Test
    void unknownFamily() throws IOException {
        String convIn = "model.diffusion_model.input_blocks.0.0.weight";
        // Only a VAE: no U-Net to tell the family by.
        Path vaeOnly = edited(t -> t.keySet().removeIf(k -> !k.startsWith("first_stage_model.")));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(vaeOnly));
        assertMentions(e, vaeOnly.toString(), convIn, "unknown", "only a VAE");
        assertEquals(convIn, e.key());
        // A U-Net with 8 input channels (instruct-pix2pix): no family sdj knows.
        Path eight = edited(t -> t.put(convIn, Tensor.of(new float[16 * 8 * 9], 16, 8, 3, 3)));
        assertMentions(assertThrows(CheckpointException.class, () -> Checkpoint.open(eight)), eight.toString(), convIn, "8 input channels");
        // A U-Net without attention, label_emb or text encoder: nothing tells SD1 from SD2 or SDXL.
        Path plain = edited(t -> t.keySet().removeIf(k -> k.contains(".1.transformer_blocks.") || k.contains("proj_in")
                || k.startsWith("model.diffusion_model.middle_block.1.")));
        assertMentions(assertThrows(CheckpointException.class, () -> Checkpoint.open(plain)), plain.toString(),
                "model.diffusion_model.input_blocks.1.1.proj_in.weight", "unknown model family");
        // And through the loaders and the CLI.
        assertMentions(assertThrows(CheckpointException.class, () -> UNet2DConditionModel.load(vaeOnly, new CpuBackend())), convIn);
        CliTest.Run r = CliTest.run("info", vaeOnly.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(convIn) && r.err().contains(vaeOnly.toString()), r.err());
    }

    @Test
    void pickleCheckpointsAreRefusedUnread() throws IOException {
        Path ckpt = dir.resolve("v1-5-pruned.ckpt");
        Files.write(ckpt, new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0});
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(ckpt));
        assertMentions(e, ckpt.toString(), "pickle", "only .safetensors", "runs whatever code the file contains");
        // A pickle under a .safetensors name is recognised by its first bytes.
        Path disguised = dir.resolve("model.safetensors");
        Files.write(disguised, new byte[] {(byte) 0x80, 2, '}', 'q', 0, '.'});
        assertMentions(assertThrows(CheckpointException.class, () -> Checkpoint.open(disguised)), disguised.toString(), "pickle");
        CliTest.Run r = CliTest.run("info", ckpt.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("v1-5-pruned.ckpt") && r.err().contains("pickle"), r.err());
        // A safetensors file whose header length starts with the same bytes as a pickle (640 = 0x280) is not one.
        byte[] json = String.format("%-640s", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path lookalike = dir.resolve("lookalike.safetensors");
        Files.write(lookalike, java.nio.ByteBuffer.allocate(8 + 640 + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(640).put(json).putFloat(1f).array());
        assertEquals((byte) 0x80, Files.readAllBytes(lookalike)[0]);
        CheckpointException notPickle = assertThrows(CheckpointException.class, () -> Checkpoint.open(lookalike));
        assertMentions(notPickle, "model.diffusion_model.input_blocks.0.0.weight", "unknown");
        // A pipeline folder whose U-Net exists only as a pickle.
        Path folder = Files.createDirectories(dir.resolve("pipe/unet"));
        Files.writeString(dir.resolve("pipe/model_index.json"), "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
        Files.write(folder.resolve("diffusion_pytorch_model.bin"), new byte[] {'P', 'K', 3, 4});
        assertMentions(assertThrows(CheckpointException.class, () -> Checkpoint.open(dir.resolve("pipe"))),
                "diffusion_pytorch_model.bin", "pickle");
    }

    @Test
    void truncatedFile() throws IOException {
        byte[] bytes = Files.readAllBytes(GOLDEN_CKPT);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length - 1000));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> Checkpoint.open(cut));
        assertMentions(e, cut.toString(), "truncated");
        assertTrue(e.tensor() != null && e.getMessage().contains(e.tensor()), e.getMessage());
    }

    @Test
    void folderWithoutModelIndex() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(empty));
        assertMentions(e, empty.toString(), "no model_index.json", "not a diffusers pipeline folder");
        assertMentions(assertThrows(CheckpointException.class, () -> AutoencoderKL.load(empty, new CpuBackend())), "model_index.json");
        CliTest.Run r = CliTest.run("info", empty.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("model_index.json"), r.err());
        assertMentions(assertThrows(java.nio.file.NoSuchFileException.class, () -> Checkpoint.open(dir.resolve("nothing-here"))),
                "nothing-here");
    }

    @Test
    void componentTheFileLacks() throws IOException {
        Path unetOnly = edited(t -> t.keySet().removeIf(k -> k.startsWith("first_stage_model.")));
        try (Checkpoint ck = Checkpoint.open(unetOnly, TINY)) {
            assertMentions(assertThrows(CheckpointException.class, ck::vaeWeights), unetOnly.toString(), "has no vae");
        }
    }
}
