package dev.sdj.sched;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Every scheduler sdj has, by diffusers class name and by the names A1111 and ComfyUI users know
 * ("euler_a", "dpmpp_2m_karras", ...). A user name may also set options (Karras sigmas, the SDE
 * variant) on top of the pipeline's scheduler config.
 */
public final class Schedulers {
    private Schedulers() {}

    /** A user-facing sampler: its name, the diffusers class, the config keys it sets, and a description. */
    public record Entry(String name, String className, Map<String, Object> overrides, String description) {}

    private static final Map<String, Entry> BY_NAME = new LinkedHashMap<>();

    /** diffusers class name → constructor. One line per implemented class. */
    private static final Map<String, Function<SchedulerConfig, Scheduler>> CLASSES = new LinkedHashMap<>();

    static {
        CLASSES.put("DDIMScheduler", DDIMScheduler::new);
        CLASSES.put("PNDMScheduler", PNDMScheduler::new);
        CLASSES.put("LMSDiscreteScheduler", LMSDiscreteScheduler::new);
        CLASSES.put("EulerDiscreteScheduler", EulerDiscreteScheduler::new);
        CLASSES.put("EulerAncestralDiscreteScheduler", EulerAncestralDiscreteScheduler::new);
        CLASSES.put("HeunDiscreteScheduler", HeunDiscreteScheduler::new);
        CLASSES.put("DPMSolverMultistepScheduler", DPMSolverMultistepScheduler::new);
        CLASSES.put("UniPCMultistepScheduler", UniPCMultistepScheduler::new);
        CLASSES.put("LCMScheduler", LCMScheduler::new);
    }

    private static void add(String name, String cls, String description, Object... kv) {
        Map<String, Object> o = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) o.put((String) kv[i], kv[i + 1]);
        BY_NAME.put(name, new Entry(name, cls, o, description));
    }

    static {
        add("ddim", "DDIMScheduler", "DDIM");
        add("pndm", "PNDMScheduler", "PLMS (PNDM without Runge-Kutta warm-up)", "skip_prk_steps", true);
        add("lms", "LMSDiscreteScheduler", "LMS (linear multistep)");
        add("euler", "EulerDiscreteScheduler", "Euler");
        add("euler_a", "EulerAncestralDiscreteScheduler", "Euler ancestral (stochastic)");
        add("heun", "HeunDiscreteScheduler", "Heun (two model calls per step)");
        add("dpmpp_2m", "DPMSolverMultistepScheduler", "DPM++ 2M", "algorithm_type", "dpmsolver++", "solver_order", 2);
        add("dpmpp_2m_karras", "DPMSolverMultistepScheduler", "DPM++ 2M Karras", "algorithm_type", "dpmsolver++",
                "solver_order", 2, "use_karras_sigmas", true);
        add("dpmpp_2m_sde_karras", "DPMSolverMultistepScheduler", "DPM++ 2M SDE Karras (stochastic)", "algorithm_type",
                "sde-dpmsolver++", "solver_order", 2, "use_karras_sigmas", true);
        add("unipc", "UniPCMultistepScheduler", "UniPC");
        add("lcm", "LCMScheduler", "LCM (for LCM-distilled models and LoRAs; stochastic)");
    }

    public static List<Entry> all() {
        return List.copyOf(BY_NAME.values());
    }

    /** The sampler a user named, on top of the pipeline's scheduler config. */
    public static Scheduler byName(String name, SchedulerConfig base) {
        Entry e = BY_NAME.get(name.toLowerCase(java.util.Locale.ROOT).replace('-', '_').replace(' ', '_'));
        if (e == null) throw new IllegalArgumentException("unknown scheduler '" + name + "'; sdj has: " + String.join(", ", BY_NAME.keySet()));
        SchedulerConfig c = base;
        for (Map.Entry<String, Object> o : e.overrides().entrySet()) c = c.with(o.getKey(), o.getValue());
        return create(e.className(), c);
    }

    /** The diffusers class {@code className} with {@code config} (a scheduler_config.json). */
    public static Scheduler create(String className, SchedulerConfig config) {
        Function<SchedulerConfig, Scheduler> make = CLASSES.get(className);
        if (make == null) {
            throw new IllegalArgumentException(config.source() + ": scheduler class " + className
                    + " is not implemented by sdj (it has: " + String.join(", ", CLASSES.keySet()) + ")");
        }
        return make.apply(config);
    }
}
