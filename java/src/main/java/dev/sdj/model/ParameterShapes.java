package dev.sdj.model;

import dev.sdj.core.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The parameters a config's model needs, by diffusers name, with their shapes: the model's own
 * constructor run without a backend on weights that only take notes. So the list is, by
 * construction, exactly what a load asks for (a checkpoint's missing and unexpected keys are
 * judged against it) and costs no memory even for SDXL.
 */
public final class ParameterShapes implements Weights {
    // Never read: a model built without a backend only stores its parameters.
    private static final Tensor PLACEHOLDER = Tensor.of(new float[1], 1);
    private final Map<String, int[]> shapes = new LinkedHashMap<>();

    private ParameterShapes() {}

    public static Map<String, int[]> unet(UNet2DConditionConfig config) {
        return of(w -> new UNet2DConditionModel(config, w, null));
    }

    public static Map<String, int[]> vae(AutoencoderKLConfig config) {
        return of(w -> new AutoencoderKL(config, w, null));
    }

    /** What {@code build} asks for: it constructs a model from the given weights without a backend. */
    public static Map<String, int[]> of(Consumer<Weights> build) {
        ParameterShapes p = new ParameterShapes();
        build.accept(p);
        return Collections.unmodifiableMap(p.shapes);
    }

    /** Total number of elements of {@code shapes}. */
    public static long count(Map<String, int[]> shapes) {
        long n = 0;
        for (int[] s : shapes.values()) n += Tensor.numel(s);
        return n;
    }

    @Override
    public Tensor get(String name, int... shape) {
        shapes.put(name, shape.clone());
        return PLACEHOLDER;
    }

    @Override
    public String source() {
        return "parameter shapes";
    }

    @Override
    public void close() {}
}
