package dev.sdj.bindings;

import java.nio.file.Path;
import java.util.List;

/** A shared library sdj needs was not found; the message lists every place looked at and how to point sdj at it. */
public final class NativeLibraryNotFoundException extends RuntimeException {
    private final String library;
    private final List<Path> searched;

    public NativeLibraryNotFoundException(String library, List<Path> searched, String howToFix) {
        super(message(library, searched, howToFix));
        this.library = library;
        this.searched = List.copyOf(searched);
    }

    private static String message(String library, List<Path> searched, String howToFix) {
        StringBuilder sb = new StringBuilder(library).append(" not found. Looked in:");
        if (searched.isEmpty()) sb.append(" (no candidate locations)");
        for (Path p : searched) sb.append("\n  ").append(p);
        return sb.append("\n").append(howToFix).toString();
    }

    public String library() {
        return library;
    }

    public List<Path> searched() {
        return searched;
    }
}
