package dev.sdj.model;

/** A model config sdj cannot build: an option it does not implement, or a value out of range. */
public final class ConfigException extends IllegalArgumentException {
    public ConfigException(String source, String option, String detail) {
        super(source + ": option '" + option + "' " + detail);
    }
}
