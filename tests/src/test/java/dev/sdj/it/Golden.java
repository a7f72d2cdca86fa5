package dev.sdj.it;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the golden reference data (tests/golden, computed with diffusers) lies. */
final class Golden {
    private Golden() {}

    static Path root() {
        // Surefire runs with the module folder (tests/) as working directory; IDEs often use the repo root.
        for (Path p : new Path[] {Path.of("golden"), Path.of("tests", "golden")}) {
            if (Files.isRegularFile(p.resolve("cases.json"))) return p.toAbsolutePath();
        }
        throw new IllegalStateException("tests/golden/cases.json not found from " + Path.of("").toAbsolutePath());
    }
}
