package dev.sdj.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The full-size diffusers configs shipped with sdj (resources dev/sdj/configs, copied from
 * shared/configs): SD1.5, SD2.1 (768-v), SDXL base and refiner, by their short names.
 */
public final class BuiltinConfigs {
    private BuiltinConfigs() {}

    /** Short name → resource folder. */
    public static final List<String> NAMES = List.of("sd15", "sd21", "sdxl", "sdxl-refiner");

    private static String folder(String name) {
        return switch (name) {
            case "sd15" -> "sd15";
            case "sd21" -> "sd21-v";
            case "sdxl" -> "sdxl-base";
            case "sdxl-refiner" -> "sdxl-refiner";
            default -> throw new IllegalArgumentException("unknown model '" + name + "'; built-in configs: " + NAMES);
        };
    }

    /** The config.json of {@code component} ("unet", "vae", ...) of the built-in model {@code name}. */
    public static DiffusersConfig component(String name, String component) {
        String path = "/dev/sdj/configs/" + folder(name) + "/" + component + "/config.json";
        try (InputStream in = BuiltinConfigs.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalArgumentException("model '" + name + "' has no " + component + " config");
            return DiffusersConfig.parse("built-in " + name + " " + component + " config", new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static UNet2DConditionConfig unet(String name) {
        return UNet2DConditionConfig.from(component(name, "unet"));
    }
}
