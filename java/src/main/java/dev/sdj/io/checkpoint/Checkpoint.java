package dev.sdj.io.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.backend.Backend;
import dev.sdj.core.DType;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.io.TensorInfo;
import dev.sdj.io.checkpoint.LdmKeyMap.Source;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.AutoencoderKLConfig;
import dev.sdj.model.BuiltinConfigs;
import dev.sdj.model.DiffusersConfig;
import dev.sdj.model.ParameterShapes;
import dev.sdj.model.UNet2DConditionConfig;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.model.WeightsException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Stable Diffusion model as users have it: one original single-file {@code .safetensors}
 * checkpoint (LDM / A1111 / ComfyUI naming) or a diffusers pipeline folder (model_index.json with
 * unet/, vae/, text_encoder/, ...). {@link #open} tells the family from the tensors (or the folder's
 * configs), picks the configs (sdj's built-in full-size ones, or the caller's), and hands out each
 * component's weights under diffusers' names, renamed once at open by {@link LdmKeyMap}.
 *
 * <p>The file stays mapped while this object or any weights taken from it are open; closing the
 * checkpoint after loading models is fine (and expected).
 */
public final class Checkpoint implements AutoCloseable {

    /** The model families sdj tells apart, with their {@code sdj info} spelling and built-in configs. */
    public enum Family {
        SD1("SD1.x", "sd15"), SD2("SD2.x", "sd21"), SDXL("SDXL", "sdxl"), SDXL_REFINER("SDXL-refiner", "sdxl-refiner");

        public final String label, builtin;

        Family(String label, String builtin) {
            this.label = label;
            this.builtin = builtin;
        }
    }

    /**
     * What the caller knows better than the tensors: a U-Net or VAE config.json to use instead of
     * the built-in one, and the prediction type ("epsilon"/"eps" or "v"). Each may be null.
     */
    public record Options(Path unetConfig, Path vaeConfig, String prediction) {
        public static final Options DEFAULT = new Options(null, null, null);

        public Options withUnetConfig(Path p) {
            return new Options(p, vaeConfig, prediction);
        }

        public Options withVaeConfig(Path p) {
            return new Options(unetConfig, p, prediction);
        }

        public Options withPrediction(String p) {
            return new Options(unetConfig, vaeConfig, p);
        }
    }

    /** A text encoder as far as sdj knows one yet: its layer count and whether it has a projection. */
    private record TextEncoderSpec(int layers, boolean projection, String source) {}

    /** One component found in the checkpoint: the file that holds it, and its naming (null: diffusers'). */
    private record Part(String name, SharedFile file, LdmKeyMap map) {
        String prefix() {
            return map == null ? "" : map.prefix();
        }
    }

    public static final List<String> COMPONENTS = List.of("unet", "vae", "text_encoder", "text_encoder_2");

    // Text encoders of single files: key prefix, diffusers component, naming (OpenCLIP or HF CLIP).
    private static final String[][] TEXT_ENCODERS = {
            {"cond_stage_model.transformer.", "text_encoder", "clip"},          // SD1: CLIP ViT-L, HF naming
            {"cond_stage_model.model.", "text_encoder", "open_clip"},           // SD2: OpenCLIP ViT-H
            {"conditioner.embedders.0.transformer.", "text_encoder", "clip"},   // SDXL base: CLIP ViT-L
            {"conditioner.embedders.1.model.", "text_encoder_2", "open_clip"},  // SDXL base: OpenCLIP bigG
            {"conditioner.embedders.0.model.", "text_encoder_2", "open_clip"}}; // SDXL refiner: bigG only

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final boolean singleFile;
    private final Family family;
    private final boolean inpainting;
    private final String evidence;
    private final Prediction prediction;
    private final UNet2DConditionConfig unetConfig;
    private final String unetConfigSource;
    private final AutoencoderKLConfig vaeConfig;
    private final String vaeConfigSource;
    private final Map<String, TextEncoderSpec> textEncoders;
    private final Map<String, Part> parts;
    private final List<SharedFile> files;
    private boolean closed;

    private Checkpoint(Path path, boolean singleFile, Detection d, Prediction prediction, UNet2DConditionConfig unetConfig,
                       String unetConfigSource, AutoencoderKLConfig vaeConfig, String vaeConfigSource,
                       Map<String, TextEncoderSpec> textEncoders, Map<String, Part> parts, List<SharedFile> files) {
        this.path = path;
        this.singleFile = singleFile;
        this.family = d.family;
        this.inpainting = d.inChannels == 9;
        this.evidence = d.evidence;
        this.prediction = prediction;
        this.unetConfig = unetConfig;
        this.unetConfigSource = unetConfigSource;
        this.vaeConfig = vaeConfig;
        this.vaeConfigSource = vaeConfigSource;
        this.textEncoders = textEncoders;
        this.parts = parts;
        this.files = files;
    }

    public static Checkpoint open(Path fileOrDir) throws IOException {
        return open(fileOrDir, Options.DEFAULT);
    }

    /** A single-file checkpoint or a diffusers pipeline folder (one with model_index.json). */
    public static Checkpoint open(Path fileOrDir, Options options) throws IOException {
        if (Files.isDirectory(fileOrDir)) return openFolder(fileOrDir, options);
        if (!Files.exists(fileOrDir)) throw new NoSuchFileException(fileOrDir.toString(), null, "no such checkpoint file or folder");
        requireSafetensors(fileOrDir);
        SharedFile file = new SharedFile(SafeTensorsFile.open(fileOrDir));
        try {
            return openFile(fileOrDir, file, options);
        } catch (IOException | RuntimeException e) {
            file.release();
            throw e;
        }
    }

    // Key prefixes only original single-file checkpoints have.
    private static final List<String> LDM_PREFIXES = List.of(LdmKeyMap.UNET_PREFIX, LdmKeyMap.VAE_PREFIX, "cond_stage_model.",
            "conditioner.embedders.");

    /** Whether tensor names are in the original (LDM) naming of a single-file checkpoint. */
    public static boolean isLdmNamed(List<String> names) {
        return names.stream().anyMatch(n -> LDM_PREFIXES.stream().anyMatch(n::startsWith));
    }

    // ---- safetensors only ----

    private static final Set<String> PICKLE_EXTENSIONS = Set.of("ckpt", "pt", "pth", "bin");

    /**
     * Refuses PyTorch pickle checkpoints (.ckpt, .pt, .pth, .bin, or a zip/pickle file under any
     * name) before anything reads them: unpickling runs whatever code the file contains.
     */
    public static void requireSafetensors(Path file) throws IOException {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String ext = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
        boolean pickle = PICKLE_EXTENSIONS.contains(ext);
        if (!pickle && Files.isRegularFile(file)) {
            byte[] head = new byte[9];
            int n;
            try (InputStream in = Files.newInputStream(file)) {
                n = in.readNBytes(head, 0, head.length);
            }
            // A safetensors file: the header length, then its JSON object. Any length may begin with
            // the bytes below, so that comes first.
            boolean safetensors = n == 9 && head[8] == '{';
            // torch.save writes a zip ("PK\3\4") since 1.6, a bare pickle (protocol 2+: 0x80 2..5) before.
            pickle = !safetensors && (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4
                    || n >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5);
        }
        if (pickle) {
            throw new CheckpointException(file, "a PyTorch pickle checkpoint; sdj reads only .safetensors, because loading a"
                    + " pickle runs whatever code the file contains. Use the model's .safetensors release, or convert it"
                    + " with a tool you trust");
        }
    }

    // ---- single file ----

    private static Checkpoint openFile(Path path, SharedFile shared, Options o) throws IOException {
        SafeTensorsFile f = shared.file;
        Detection d = detect(path, f);
        String familyKey = d.family.builtin;

        UNet2DConditionConfig unet;
        String unetSource;
        if (o.unetConfig() != null) {
            unet = UNet2DConditionConfig.read(o.unetConfig());
            unetSource = o.unetConfig().toString();
        } else {
            unet = BuiltinConfigs.unet(familyKey).withInChannels(d.inChannels);
            unetSource = "built-in " + familyKey + " unet" + (d.inChannels != 4 ? " with in_channels " + d.inChannels : "");
        }
        AutoencoderKLConfig vae;
        String vaeSource;
        if (o.vaeConfig() != null) {
            vae = AutoencoderKLConfig.read(o.vaeConfig());
            vaeSource = o.vaeConfig().toString();
        } else {
            vae = AutoencoderKLConfig.from(BuiltinConfigs.component(familyKey, "vae"));
            vaeSource = "built-in " + familyKey + " vae";
        }

        Map<String, Part> parts = new LinkedHashMap<>();
        parts.put("unet", new Part("unet", shared, LdmKeyMap.unet(unet)));
        if (hasPrefix(f, LdmKeyMap.VAE_PREFIX)) parts.put("vae", new Part("vae", shared, LdmKeyMap.vae(vae)));
        for (String[] te : TEXT_ENCODERS) {
            if (!hasPrefix(f, te[0]) || parts.containsKey(te[1])) continue;
            boolean infix = f.contains(te[0] + "text_model.embeddings.token_embedding.weight")
                    || !f.contains(te[0] + "embeddings.token_embedding.weight");
            parts.put(te[1], new Part(te[1], shared, te[2].equals("clip") ? LdmKeyMap.clip(te[0], infix) : LdmKeyMap.openClip(te[0])));
        }
        Map<String, TextEncoderSpec> specs = new LinkedHashMap<>();
        for (String te : List.of("text_encoder", "text_encoder_2")) {
            TextEncoderSpec spec = builtinTextEncoder(familyKey, te);
            if (spec != null) specs.put(te, spec);
        }
        return new Checkpoint(path, true, d, filePrediction(path, d.family, o), unet, unetSource, vae, vaeSource, specs, parts,
                List.of(shared));
    }

    private static boolean hasPrefix(SafeTensorsFile f, String prefix) {
        return f.names().stream().anyMatch(n -> n.startsWith(prefix));
    }

    private static TextEncoderSpec builtinTextEncoder(String family, String component) {
        DiffusersConfig c;
        try {
            c = BuiltinConfigs.component(family, component);
        } catch (IllegalArgumentException e) {
            return null; // the refiner has no text_encoder
        }
        return textEncoderSpec(c, "built-in " + family + " " + component);
    }

    private static TextEncoderSpec textEncoderSpec(DiffusersConfig c, String source) {
        boolean projection = Arrays.asList(c.getStrings("architectures", new String[0])).contains("CLIPTextModelWithProjection");
        return new TextEncoderSpec(c.getInt("num_hidden_layers", 12), projection, source);
    }

    /** What the family detection found: the family, the U-Net's input channels, and what decided. */
    private record Detection(Family family, int inChannels, String evidence) {}

    /**
     * The family from key names and shapes, the way diffusers' and A1111's loaders tell them apart:
     * SDXL has the added (text_time) embedding {@code label_emb}; base and refiner differ in their
     * text encoders, cross-attention width (2048/1280), ADM input (2816/2560) or levels (3/4);
     * SD1 and SD2 in their text encoders (CLIP / OpenCLIP), cross-attention width (768/1024) or
     * proj_in (1×1 conv / Linear). Inpainting U-Nets take 9 input channels.
     */
    private static final Pattern DOWNSAMPLER = Pattern.compile(Pattern.quote(LdmKeyMap.UNET_PREFIX) + "input_blocks\\.\\d+\\.0\\.op\\.weight");

    private static Detection detect(Path path, SafeTensorsFile f) throws IOException {
        String u = LdmKeyMap.UNET_PREFIX, convIn = u + "input_blocks.0.0.weight";
        if (!f.contains(convIn)) {
            String hint = f.contains("conv_in.weight") ? "; it looks like a diffusers-named U-Net: load its folder (config.json beside it)"
                    : hasPrefix(f, LdmKeyMap.VAE_PREFIX) || f.contains("encoder.conv_in.weight") ? "; it holds only a VAE" : "";
            throw new CheckpointException(path, convIn, "missing: no U-Net in the original (LDM) naming"
                    + " (model.diffusion_model.*), so the model family is unknown" + hint);
        }
        int[] conv = f.info(convIn).shape();
        int in = conv.length == 4 ? conv[1] : -1;
        if (in != 4 && in != 9) {
            throw new CheckpointException(path, convIn, "has shape " + Arrays.toString(conv) + ": " + in
                    + " input channels is no family sdj knows (4: text-to-image, 9: inpainting)");
        }
        int context = -1, projInRank = -1, levels = 1;
        for (String k : f.names()) {
            if (!k.startsWith(u)) continue;
            if (context < 0 && k.endsWith(".attn2.to_k.weight") && f.info(k).shape().length == 2) context = f.info(k).shape()[1];
            if (projInRank < 0 && k.endsWith(".proj_in.weight")) projInRank = f.info(k).shape().length;
            if (DOWNSAMPLER.matcher(k).matches()) levels++;
        }
        String label = u + "label_emb.0.0.weight";
        Family family;
        String why;
        if (f.contains(label)) {
            int adm = f.info(label).shape().length == 2 ? f.info(label).shape()[1] : -1;
            if (hasPrefix(f, "conditioner.embedders.1.model.")) {
                family = Family.SDXL;
                why = "label_emb and a second text encoder conditioner.embedders.1.model.*";
            } else if (hasPrefix(f, "conditioner.embedders.0.model.")) {
                family = Family.SDXL_REFINER;
                why = "label_emb and one OpenCLIP text encoder conditioner.embedders.0.model.*";
            } else if (context == 2048 || adm == 2816) {
                family = Family.SDXL;
                why = "label_emb, cross-attention width " + context + ", ADM input " + adm;
            } else if (context == 1280 || adm == 2560) {
                family = Family.SDXL_REFINER;
                why = "label_emb, cross-attention width " + context + ", ADM input " + adm;
            } else if (levels == 3 || levels == 4) {
                family = levels == 3 ? Family.SDXL : Family.SDXL_REFINER;
                why = "label_emb and " + levels + " U-Net levels";
            } else {
                throw new CheckpointException(path, label, "SDXL-style added conditioning, but neither text encoders, the"
                        + " cross-attention width " + context + ", the ADM input " + adm + " nor " + levels
                        + " levels match SDXL base or refiner: unknown model family");
            }
        } else if (hasPrefix(f, "cond_stage_model.transformer.")) {
            family = Family.SD1;
            why = "CLIP text encoder cond_stage_model.transformer.*";
        } else if (hasPrefix(f, "cond_stage_model.model.")) {
            family = Family.SD2;
            why = "OpenCLIP text encoder cond_stage_model.model.*";
        } else if (context == 768 || context == 1024) {
            family = context == 768 ? Family.SD1 : Family.SD2;
            why = "cross-attention width " + context;
        } else if (projInRank == 4 || projInRank == 2) {
            family = projInRank == 4 ? Family.SD1 : Family.SD2;
            why = projInRank == 4 ? "proj_in is a 1x1 conv" : "proj_in is Linear";
        } else {
            throw new CheckpointException(path, u + "input_blocks.1.1.proj_in.weight", "missing, and no text encoder,"
                    + " cross-attention or label_emb tensor tells SD1.x, SD2.x and SDXL apart: unknown model family");
        }
        return new Detection(family, in, why);
    }

    private static Prediction filePrediction(Path file, Family family, Options o) throws IOException {
        if (o.prediction() != null) return new Prediction(Prediction.parse(o.prediction()), "given");
        Prediction sidecar = sidecar(file);
        if (sidecar != null) return sidecar;
        if (family == Family.SD2) {
            return new Prediction(Prediction.EPSILON, "assumed: SD2.x epsilon and v models have the same tensors; for a v"
                    + " model pass --prediction v or put " + stem(file) + ".yaml (parameterization: \"v\") beside it");
        }
        return new Prediction(Prediction.EPSILON, family.label + " default");
    }

    private static String stem(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private static final Pattern PARAMETERIZATION = Pattern.compile("^\\s*parameterization\\s*:\\s*[\"']?([A-Za-z_-]+)[\"']?\\s*(#.*)?$");

    /**
     * FILE.yaml (an LDM inference config: only its {@code parameterization:} line is read, with a
     * line scan rather than a YAML library) or FILE.json ({@code prediction_type} or
     * {@code parameterization}) beside the checkpoint, or null when neither exists or says so.
     */
    static Prediction sidecar(Path file) throws IOException {
        String stem = stem(file);
        for (String ext : List.of(".yaml", ".yml")) {
            Path yaml = file.resolveSibling(stem + ext);
            if (!Files.isRegularFile(yaml)) continue;
            for (String line : Files.readAllLines(yaml)) {
                Matcher m = PARAMETERIZATION.matcher(line);
                if (m.matches()) return new Prediction(sidecarValue(yaml, m.group(1)), yaml.getFileName() + " (parameterization)");
            }
            return null; // LDM's default parameterization is eps
        }
        Path json = file.resolveSibling(stem + ".json");
        if (Files.isRegularFile(json)) {
            JsonNode root = JSON.readTree(json.toFile());
            for (String key : List.of("prediction_type", "parameterization")) {
                JsonNode v = root == null ? null : root.get(key);
                if (v != null && v.isTextual()) return new Prediction(sidecarValue(json, v.textValue()), json.getFileName() + " (" + key + ")");
            }
        }
        return null;
    }

    private static String sidecarValue(Path sidecar, String value) {
        try {
            return Prediction.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(sidecar, "prediction '" + value + "' is neither eps/epsilon nor v/v_prediction");
        }
    }

    // ---- diffusers folder ----

    private static Checkpoint openFolder(Path dir, Options o) throws IOException {
        Path index = dir.resolve("model_index.json");
        if (!Files.isRegularFile(index)) {
            throw new CheckpointException(dir, "no model_index.json, so not a diffusers pipeline folder"
                    + (Files.isRegularFile(dir.resolve("config.json"))
                    ? " (its config.json makes it one component, such as unet/: UNet2DConditionModel.load reads those)" : ""));
        }
        JsonNode root = JSON.readTree(index.toFile());
        if (root == null || !root.isObject()) throw new CheckpointException(index, "is not a JSON object");
        List<SharedFile> files = new ArrayList<>();
        try {
            Map<String, Part> parts = new LinkedHashMap<>();
            for (String c : COMPONENTS) {
                JsonNode entry = root.get(c);
                if (entry == null || entry.isNull() || entry.isArray() && (entry.isEmpty() || entry.get(0).isNull())) continue;
                Path weights = componentWeights(dir.resolve(c), c.startsWith("text_encoder")
                        ? List.of("model.safetensors", "model.fp16.safetensors")
                        : List.of("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"));
                SharedFile file = new SharedFile(SafeTensorsFile.open(weights));
                files.add(file);
                parts.put(c, new Part(c, file, null));
            }
            if (!parts.containsKey("unet")) throw new CheckpointException(index, "names no unet");
            Path unetJson = o.unetConfig() != null ? o.unetConfig() : dir.resolve("unet/config.json");
            UNet2DConditionConfig unet = UNet2DConditionConfig.read(unetJson);
            AutoencoderKLConfig vae = null;
            Path vaeJson = o.vaeConfig() != null ? o.vaeConfig() : dir.resolve("vae/config.json");
            if (parts.containsKey("vae") || o.vaeConfig() != null) vae = AutoencoderKLConfig.read(vaeJson);
            Map<String, TextEncoderSpec> specs = new LinkedHashMap<>();
            Map<String, Integer> widths = new LinkedHashMap<>();
            for (String te : List.of("text_encoder", "text_encoder_2")) {
                Path json = dir.resolve(te).resolve("config.json");
                if (!parts.containsKey(te) || !Files.isRegularFile(json)) continue;
                DiffusersConfig c = DiffusersConfig.read(json);
                specs.put(te, textEncoderSpec(c, json.toString()));
                widths.put(te, c.getInt("hidden_size", -1));
            }
            Detection d = detectFolder(dir, unet, parts.keySet(), widths);
            Prediction prediction = o.prediction() != null ? new Prediction(Prediction.parse(o.prediction()), "given")
                    : folderPrediction(dir, d.family);
            return new Checkpoint(dir, false, d, prediction, unet, unetJson.toString(), vae, vae == null ? null : vaeJson.toString(),
                    specs, parts, files);
        } catch (IOException | RuntimeException e) {
            for (SharedFile f : files) f.release();
            throw e;
        }
    }

    private static Path componentWeights(Path dir, List<String> names) throws IOException {
        for (String n : names) {
            if (Files.isRegularFile(dir.resolve(n))) return dir.resolve(n);
        }
        for (String pickle : List.of("diffusion_pytorch_model.bin", "pytorch_model.bin", "model.ckpt")) {
            if (Files.isRegularFile(dir.resolve(pickle))) requireSafetensors(dir.resolve(pickle)); // throws, saying why
        }
        throw new NoSuchFileException(dir.resolve(names.get(0)).toString(), null, "no weights for this component (looked for " + names + ")");
    }

    /** The folder's family from its U-Net config and text encoders, by the same rules as {@link #detect}. */
    private static Detection detectFolder(Path dir, UNet2DConditionConfig unet, Set<String> components, Map<String, Integer> widths) {
        int context = unet.crossAttentionDim()[0];
        boolean two = components.contains("text_encoder") && components.contains("text_encoder_2");
        Family family;
        String why;
        if (unet.additionEmbedType() != null) {
            if (two || context == 2048) {
                family = Family.SDXL;
                why = two ? "text_time conditioning and two text encoders" : "text_time conditioning, cross-attention width 2048";
            } else if (components.contains("text_encoder_2") || context == 1280) {
                family = Family.SDXL_REFINER;
                why = "text_time conditioning and only text_encoder_2";
            } else {
                family = unet.levels() == 4 ? Family.SDXL_REFINER : Family.SDXL;
                why = "text_time conditioning and " + unet.levels() + " U-Net levels";
            }
        } else {
            int width = widths.getOrDefault("text_encoder", -1);
            if (width == 768 || width == 1024) {
                family = width == 768 ? Family.SD1 : Family.SD2;
                why = "text_encoder hidden_size " + width;
            } else if (context == 768 || context == 1024) {
                family = context == 768 ? Family.SD1 : Family.SD2;
                why = "unet cross_attention_dim " + context;
            } else {
                family = unet.useLinearProjection() ? Family.SD2 : Family.SD1;
                why = "unet use_linear_projection " + unet.useLinearProjection();
            }
        }
        return new Detection(family, unet.inChannels(), why);
    }

    private static Prediction folderPrediction(Path dir, Family family) throws IOException {
        Path sched = dir.resolve("scheduler/scheduler_config.json");
        if (Files.isRegularFile(sched)) {
            JsonNode v = JSON.readTree(sched.toFile()).get("prediction_type");
            if (v != null && v.isTextual()) return new Prediction(Prediction.parse(v.textValue()), "scheduler/scheduler_config.json");
        }
        return new Prediction(Prediction.EPSILON, family.label + " default (no prediction_type in scheduler/scheduler_config.json)");
    }

    // ---- what it is ----

    public Path path() {
        return path;
    }

    /** True for a single-file checkpoint, false for a diffusers folder. */
    public boolean isSingleFile() {
        return singleFile;
    }

    public Family family() {
        return family;
    }

    /** A U-Net with 9 input channels (latents, mask, masked-image latents). */
    public boolean inpainting() {
        return inpainting;
    }

    /** "SD1.x", "SD2.x", "SDXL", "SDXL-refiner", with "-inpaint" for inpainting U-Nets. */
    public String familyName() {
        return family.label + (inpainting ? "-inpaint" : "");
    }

    /** What decided the family, for {@code sdj info}. */
    public String evidence() {
        return evidence;
    }

    public Prediction prediction() {
        return prediction;
    }

    public UNet2DConditionConfig unetConfig() {
        return unetConfig;
    }

    /** The VAE config (the built-in one of the family for a single file), or null when a folder has no vae/. */
    public AutoencoderKLConfig vaeConfig() {
        return vaeConfig;
    }

    /** The components present, in {@link #COMPONENTS} order. */
    public List<String> components() {
        return List.copyOf(parts.keySet());
    }

    public boolean has(String component) {
        return parts.containsKey(component);
    }

    // ---- weights and models ----

    /**
     * The weights of {@code component} under diffusers' names. The caller closes them (a model
     * built on them closes them with itself).
     */
    public CheckpointWeights weights(String component) {
        requireOpen();
        Part p = parts.get(component);
        if (p == null) {
            throw new CheckpointException(path, "has no " + component + (singleFile ? "" : " folder")
                    + " (it has " + parts.keySet() + ")");
        }
        return new CheckpointWeights(p.file, p.map, component);
    }

    public CheckpointWeights unetWeights() {
        return weights("unet");
    }

    public CheckpointWeights vaeWeights() {
        return weights("vae");
    }

    /** The U-Net on {@code backend}. Every U-Net key of the checkpoint must be used. */
    public UNet2DConditionModel loadUnet(Backend backend) {
        CheckpointWeights w = unetWeights();
        try {
            UNet2DConditionModel m = new UNet2DConditionModel(unetConfig, w, backend);
            requireAllUsed(w, "U-Net", unetConfigSource);
            return m;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** The VAE on {@code backend}. Every VAE key of the checkpoint must be used. */
    public AutoencoderKL loadVae(Backend backend) {
        CheckpointWeights w = vaeWeights();
        try {
            AutoencoderKL m = new AutoencoderKL(vaeConfig, w, backend);
            requireAllUsed(w, "VAE", vaeConfigSource);
            return m;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    private static void requireAllUsed(CheckpointWeights w, String what, String config) {
        List<String> unused = w.unused();
        if (!unused.isEmpty()) {
            throw new WeightsException(w.source(), unused.get(0), "is not a parameter of the " + what + " that " + config
                    + " describes (" + unused.size() + " such keys)");
        }
    }

    // ---- report ----

    /**
     * One component against its config: what the checkpoint holds (tensors, parameters, dtypes)
     * and how it differs from what the config needs. Keys are the checkpoint's; a missing one
     * carries the diffusers name in parentheses.
     */
    public record ComponentReport(String name, Path file, boolean present, int tensors, long parameters, Set<DType> dtypes,
                                  String config, int expected, List<String> missing, List<String> wrongShape,
                                  List<String> unexpected, List<String> unusedByConfig) {}

    /** {@code sdj info}'s view: the family, the prediction, every component, and keys outside all components. */
    public record Report(String family, String evidence, Prediction prediction, List<ComponentReport> components,
                         List<String> unexpected, Map<String, Integer> ignored) {}

    public Report report() throws IOException {
        requireOpen();
        List<ComponentReport> out = new ArrayList<>();
        Map<String, Integer> ignored = new TreeMap<>();
        for (String c : COMPONENTS) {
            boolean expected = c.equals("vae") ? vaeConfig != null : textEncoders.containsKey(c);
            if (!parts.containsKey(c) && !expected) continue;
            out.add(componentReport(c, ignored));
        }
        List<String> unexpected = new ArrayList<>();
        if (singleFile) {
            SafeTensorsFile f = files.get(0).file;
            for (String k : f.names()) {
                if (parts.values().stream().anyMatch(p -> k.startsWith(p.prefix()))) continue;
                String why = LdmKeyMap.ignoredReason(k);
                if (why != null) ignored.merge(why, 1, Integer::sum);
                else unexpected.add(k);
            }
        }
        return new Report(familyName(), evidence, prediction, out, unexpected, ignored);
    }

    private static final Pattern LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\..*");

    private ComponentReport componentReport(String c, Map<String, Integer> ignored) throws IOException {
        Part p = parts.get(c);
        String config;
        Map<String, int[]> expected = new LinkedHashMap<>();
        TextEncoderSpec spec = textEncoders.get(c);
        switch (c) {
            case "unet" -> {
                config = unetConfigSource;
                expected.putAll(ParameterShapes.unet(unetConfig));
            }
            case "vae" -> {
                config = vaeConfigSource;
                if (vaeConfig != null) expected.putAll(ParameterShapes.vae(vaeConfig));
            }
            default -> {
                config = spec == null ? "none for " + familyName() : spec.source + " (" + spec.layers + " layers)";
                if (spec != null) for (String n : LdmKeyMap.clipTextEncoderNames(spec.layers, spec.projection)) expected.put(n, null);
            }
        }
        if (p == null) {
            return new ComponentReport(c, null, false, 0, 0, Set.of(), config, expected.size(), List.of(), List.of(), List.of(), List.of());
        }
        SafeTensorsFile f = p.file.file;
        Function<String, Source> resolve = n -> p.map == null ? Source.of(n) : p.map.toLdm(n);
        List<String> wrong = new ArrayList<>();
        Map<String, List<String>> missingKeys = new LinkedHashMap<>(); // checkpoint key -> the diffusers names it would hold
        Set<String> used = new java.util.HashSet<>();
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            Source s = resolve.apply(e.getKey());
            if (s == null || !f.contains(s.key())) {
                missingKeys.computeIfAbsent(s == null ? "(no key for " + e.getKey() + ")" : s.key(), k -> new ArrayList<>()).add(e.getKey());
                continue;
            }
            used.add(s.key());
            if (e.getValue() == null) continue;
            int[] have = CheckpointWeights.view(f.tensor(s.key()), s).shape();
            if (!Arrays.equals(have, e.getValue())) {
                wrong.add(s.key() + " " + Arrays.toString(f.info(s.key()).shape()) + ", config needs " + Arrays.toString(e.getValue()));
            }
        }
        List<String> missing = new ArrayList<>();
        missingKeys.forEach((k, names) -> missing.add(p.map == null ? k : k + " (" + String.join(", ", names) + ")"));
        int tensors = 0;
        long params = 0;
        Set<DType> dtypes = EnumSet.noneOf(DType.class);
        List<String> unexpected = new ArrayList<>(), unusedByConfig = new ArrayList<>();
        for (String k : f.names()) {
            if (!k.startsWith(p.prefix())) continue;
            TensorInfo t = f.info(k);
            tensors++;
            params += t.numel();
            dtypes.add(t.dtype());
            if (used.contains(k)) continue;
            String why = LdmKeyMap.ignoredReason(k);
            if (why != null) {
                ignored.merge(why, 1, Integer::sum);
            } else if (spec != null && pastTheConfig(p, k, spec)) {
                unusedByConfig.add(k);
            } else {
                unexpected.add(k);
            }
        }
        return new ComponentReport(c, f.path(), true, tensors, params, dtypes, config, expected.size(), missing, wrong, unexpected, unusedByConfig);
    }

    /**
     * A text-encoder key the config leaves unused on purpose, as diffusers does: layers past
     * num_hidden_layers (SD2 takes the penultimate layer of OpenCLIP's 24) and a text_projection
     * the config has no use for.
     */
    private static boolean pastTheConfig(Part p, String key, TextEncoderSpec spec) {
        List<String> names = p.map == null ? List.of(key) : p.map.toDiffusers(key);
        if (names.isEmpty()) return false;
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            boolean past = m.matches() && Integer.parseInt(m.group(1)) >= spec.layers
                    || n.equals("text_projection.weight") && !spec.projection;
            if (!past) return false;
        }
        return true;
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException(path + ": checkpoint is closed");
    }

    /** Releases this object's hold on the files; models loaded from it keep theirs. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (SharedFile f : files) f.release();
    }

    @Override
    public String toString() {
        return "Checkpoint(" + path + ", " + familyName() + ", " + parts.keySet() + ")";
    }
}
