package dev.sdj.image;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;

/**
 * Between the VAE's pixel tensors and images: [-1, 1] NCHW floats ↔ 8-bit RGB, as diffusers' postprocess does
 * ({@code round(clamp(x / 2 + 0.5, 0, 1) · 255)}, round half to even like numpy), and PNG files that carry the
 * generation parameters in a tEXt chunk named "parameters" (A1111's convention, read by A1111, ComfyUI and most
 * image browsers). Reading and writing go through the JDK's ImageIO.
 */
public final class Images {
    /** The PNG text keyword A1111 writes and reads. */
    public static final String PARAMETERS = "parameters";

    private Images() {}

    /** diffusers' uint8 value of one pixel channel in [-1, 1]. */
    public static int toUint8(float v) {
        double x = Math.clamp(v / 2f + 0.5f, 0f, 1f) * 255f;
        return (int) Math.rint(x);
    }

    /** Image {@code index} of NCHW pixels (B, 3, H, W) in [-1, 1] as 8-bit RGB. */
    public static BufferedImage toImage(float[] nchw, int index, int height, int width) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int plane = height * width, base = index * 3 * plane;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = y * width + x;
                int r = toUint8(nchw[base + p]), g = toUint8(nchw[base + plane + p]), b = toUint8(nchw[base + 2 * plane + p]);
                img.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        return img;
    }

    /** An RGB image as NCHW (1, 3, H, W) floats in [-1, 1] (x / 127.5 − 1, diffusers' preprocess), resized first if needed. */
    public static float[] toPixels(BufferedImage image, int width, int height) {
        BufferedImage img = image.getWidth() == width && image.getHeight() == height ? image : resize(image, width, height);
        float[] out = new float[3 * width * height];
        int plane = width * height;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int rgb = img.getRGB(x, y), p = y * width + x;
                out[p] = ((rgb >> 16) & 0xff) / 127.5f - 1f;
                out[plane + p] = ((rgb >> 8) & 0xff) / 127.5f - 1f;
                out[2 * plane + p] = (rgb & 0xff) / 127.5f - 1f;
            }
        }
        return out;
    }

    /** Bicubic resize (img2img's init image to the requested size). */
    public static BufferedImage resize(BufferedImage image, int width, int height) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.drawImage(image, 0, 0, width, height, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** Reads a PNG, JPEG, BMP or GIF; a file ImageIO cannot decode is an error naming it. */
    public static BufferedImage read(Path file) {
        try {
            BufferedImage img = ImageIO.read(file.toFile());
            if (img == null) throw new IllegalArgumentException(file + ": not an image ImageIO can read (PNG, JPEG, BMP, GIF)");
            return img;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code image} as PNG with {@code parameters} (may be null) in a tEXt chunk; atomically (temp file, then move). */
    public static void writePng(BufferedImage image, String parameters, Path file) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".sdj-", ".png");
            try {
                ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
                try (ImageOutputStream out = ImageIO.createImageOutputStream(tmp.toFile())) {
                    writer.setOutput(out);
                    ImageWriteParam param = writer.getDefaultWriteParam();
                    IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image), param);
                    if (parameters != null) addText(meta, PARAMETERS, parameters);
                    writer.write(null, new IIOImage(image, null, meta), param);
                } finally {
                    writer.dispose();
                }
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void addText(IIOMetadata meta, String key, String value) throws IIOInvalidTreeException {
        // tEXt is Latin-1 only; A1111 writes iTXt for other text. Use iTXt when the text needs it.
        boolean latin1 = value.chars().allMatch(c -> c < 256);
        IIOMetadataNode root = new IIOMetadataNode("javax_imageio_png_1.0");
        if (latin1) {
            IIOMetadataNode text = new IIOMetadataNode("tEXt");
            IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
            entry.setAttribute("keyword", key);
            entry.setAttribute("value", value);
            text.appendChild(entry);
            root.appendChild(text);
        } else {
            IIOMetadataNode text = new IIOMetadataNode("iTXt");
            IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
            entry.setAttribute("keyword", key);
            entry.setAttribute("compressionFlag", "FALSE");
            entry.setAttribute("compressionMethod", "0");
            entry.setAttribute("languageTag", "");
            entry.setAttribute("translatedKeyword", "");
            entry.setAttribute("text", value);
            text.appendChild(entry);
            root.appendChild(text);
        }
        meta.mergeTree("javax_imageio_png_1.0", root);
    }

    /** The "parameters" text of a PNG (tEXt or iTXt), or null when it has none. */
    public static String readParameters(Path file) {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new IllegalArgumentException(file + ": not an image");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                IIOMetadata meta = reader.getImageMetadata(0);
                var root = (IIOMetadataNode) meta.getAsTree("javax_imageio_png_1.0");
                for (String kind : new String[] {"tEXtEntry", "iTXtEntry"}) {
                    var entries = root.getElementsByTagName(kind);
                    for (int i = 0; i < entries.getLength(); i++) {
                        var e = (IIOMetadataNode) entries.item(i);
                        if (PARAMETERS.equals(e.getAttribute("keyword"))) {
                            return kind.equals("tEXtEntry") ? e.getAttribute("value") : e.getAttribute("text");
                        }
                    }
                }
                return null;
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }
}
