package dev.sdj.bindings;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Finds and loads the shared libraries behind the generated bindings, by path.
 *
 * <p>The bindings are generated without {@code -l}: their classes load on any machine, and their symbols
 * resolve through {@link java.lang.foreign.SymbolLookup#loaderLookup()}, that is, from the libraries this
 * class has {@link System#load loaded}. Call {@link #load(Library)} (the safe handles in {@code dev.sdj.cuda}
 * do) before calling into a generated class.
 *
 * <p>Where each library is looked for, first hit wins:
 * <ol>
 *   <li>an explicit file: system property {@code sdj.<lib>} or environment variable {@code SDJ_<LIB>}
 *       (e.g. {@code -Dsdj.cudnn=/x/libcudnn.so.9}, {@code SDJ_CUBLAS=/x/libcublas.so.13});</li>
 *   <li>an explicit folder for all of them: {@code -Dsdj.cuda.libdir} or {@code SDJ_CUDA_LIBDIR}
 *       ({@code libsdj_kernels.so}: also {@code -Dsdj.native.dir}, which the build and the launcher set);</li>
 *   <li>each folder of {@code LD_LIBRARY_PATH};</li>
 *   <li>the CUDA toolkit: {@code $CUDA_HOME/lib64} (and {@code lib}, {@code targets/x86_64-linux/lib}), then
 *       {@code /usr/local/cuda};</li>
 *   <li>Python environments, where PyTorch's wheels put them: {@code site-packages/nvidia/*}{@code /lib} under
 *       {@code $VIRTUAL_ENV}, {@code $CONDA_PREFIX}, {@code /opt/*}{@code /.venv}, {@code /opt/conda},
 *       {@code ~/.local} and {@code /usr/local};</li>
 *   <li>the system's library folders ({@code /usr/lib/x86_64-linux-gnu}, {@code /usr/lib64}, {@code /usr/lib});</li>
 *   <li>{@code libsdj_kernels.so} only: {@code build/native} under the working directory.</li>
 * </ol>
 */
public final class CudaLibraries {

    /** The libraries sdj binds, with the sonames of the CUDA 13 / cuDNN 9 generation. */
    public enum Library {
        CUDART("libcudart.so.13", "cudart"),
        CUBLASLT("libcublasLt.so.13", "cublaslt"),
        CUBLAS("libcublas.so.13", "cublas", CUBLASLT),
        CUDNN("libcudnn.so.9", "cudnn"),
        SDJ_KERNELS("libsdj_kernels.so", "kernels", CUDART);

        private final String fileName;
        private final String key;
        private final List<Library> needs;

        Library(String fileName, String key, Library... needs) {
            this.fileName = fileName;
            this.key = key;
            this.needs = List.of(needs);
        }

        public String fileName() {
            return fileName;
        }

        /** The system property that names this library's file: {@code sdj.<key>}. */
        public String property() {
            return "sdj." + key;
        }

        /** The environment variable that names this library's file: {@code SDJ_<KEY>}. */
        public String environmentVariable() {
            return "SDJ_" + key.toUpperCase(java.util.Locale.ROOT);
        }
    }

    private static final Map<Library, Path> LOADED = new EnumMap<>(Library.class);

    private CudaLibraries() {}

    /**
     * Loads the library (and the ones it needs, first) once per JVM and returns the file loaded.
     *
     * @throws NativeLibraryNotFoundException listing every place looked at, when it is nowhere
     * @throws UnsatisfiedLinkError naming the file, when a file was found but the dynamic linker refused it
     */
    public static synchronized Path load(Library library) {
        Path done = LOADED.get(library);
        if (done != null) return done;
        Path file = locate(library, Search.system()); // the one asked for is the one a missing-library error names
        for (Library need : library.needs) load(need);
        try {
            System.load(file.toString());
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError clear = new UnsatisfiedLinkError("cannot load " + file + " (" + library.fileName
                    + "): " + e.getMessage() + "\nPoint sdj at a working copy with -D" + library.property()
                    + "=/path/to/" + library.fileName + " or " + library.environmentVariable() + ".");
            clear.initCause(e);
            throw clear;
        }
        LOADED.put(library, file);
        return file;
    }

    /** The file this JVM loaded for the library, if it did. */
    public static synchronized java.util.Optional<Path> loaded(Library library) {
        return java.util.Optional.ofNullable(LOADED.get(library));
    }

    /** Whether {@link #load} would find the library, without loading it. */
    public static boolean isAvailable(Library library) {
        return Search.system().candidates(library).stream().anyMatch(Files::isRegularFile);
    }

    /** The first existing candidate for the library under the given search settings. */
    public static Path locate(Library library, Search search) {
        List<Path> candidates = search.candidates(library);
        for (Path p : candidates) {
            if (Files.isRegularFile(p)) return p.toAbsolutePath();
        }
        throw new NativeLibraryNotFoundException(library.fileName, candidates, howToFix(library));
    }

    private static String howToFix(Library library) {
        String where = switch (library) {
            case SDJ_KERNELS -> "Build it with CMake and nvcc (./test.sh or ./sdj do)";
            case CUDART -> "Install the CUDA 13 runtime (the CUDA toolkit, or pip's nvidia-cuda-runtime as PyTorch brings it)";
            case CUBLAS, CUBLASLT -> "Install cuBLAS 13 (the CUDA toolkit, or pip's nvidia-cublas as PyTorch brings it)";
            case CUDNN -> "Install cuDNN 9 for CUDA 13 (pip's nvidia-cudnn-cu13 as PyTorch brings it, or NVIDIA's package)";
        };
        return where + ", or point sdj at it with -D" + library.property() + "=/path/to/" + library.fileName
                + " or " + library.environmentVariable() + "=/path/to/" + library.fileName
                + " (a whole folder: -Dsdj.cuda.libdir or SDJ_CUDA_LIBDIR).";
    }

    /** The inputs of the search: system properties, environment, home and working folder; tests pass their own. */
    public record Search(Function<String, String> property, Function<String, String> env, Path home, Path workDir,
                         Path defaultCudaHome, List<Path> pythonRoots, List<Path> systemDirs) {

        public static Search system() {
            return new Search(System::getProperty, System::getenv, Path.of(System.getProperty("user.home", "/")),
                    Path.of("").toAbsolutePath(), Path.of("/usr/local/cuda"), defaultPythonRoots(), defaultSystemDirs());
        }

        private static List<Path> defaultPythonRoots() {
            List<Path> roots = new ArrayList<>();
            for (Path opt : children(Path.of("/opt"))) roots.add(opt.resolve(".venv"));
            roots.add(Path.of("/opt/conda"));
            roots.add(Path.of("/usr/local"));
            return roots;
        }

        private static List<Path> defaultSystemDirs() {
            return List.of(Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/lib64"), Path.of("/usr/lib"));
        }

        /** Every file looked at for the library, in order. */
        public List<Path> candidates(Library library) {
            String name = library.fileName;
            Set<Path> out = new LinkedHashSet<>();
            String explicit = setting(library.property(), library.environmentVariable());
            if (explicit != null) out.add(Path.of(explicit));
            if (library == Library.SDJ_KERNELS) {
                String dir = property.apply("sdj.native.dir");
                if (dir != null && !dir.isBlank()) out.add(Path.of(dir, name));
            }
            String libDir = setting("sdj.cuda.libdir", "SDJ_CUDA_LIBDIR");
            if (libDir != null) out.add(Path.of(libDir, name));
            String ld = env.apply("LD_LIBRARY_PATH");
            if (ld != null) {
                for (String d : ld.split(":")) {
                    if (!d.isBlank()) out.add(Path.of(d, name));
                }
            }
            if (library != Library.SDJ_KERNELS) {
                String cudaHome = env.apply("CUDA_HOME");
                if (cudaHome == null || cudaHome.isBlank()) cudaHome = env.apply("CUDA_PATH");
                List<Path> toolkits = new ArrayList<>();
                if (cudaHome != null && !cudaHome.isBlank()) toolkits.add(Path.of(cudaHome));
                toolkits.add(defaultCudaHome);
                for (Path t : toolkits) {
                    out.add(t.resolve("lib64").resolve(name));
                    out.add(t.resolve("lib").resolve(name));
                    out.add(t.resolve("targets/x86_64-linux/lib").resolve(name));
                }
                for (Path root : pythonEnvironments()) {
                    for (Path sitePackages : sitePackages(root)) {
                        for (Path pkg : children(sitePackages.resolve("nvidia"))) out.add(pkg.resolve("lib").resolve(name));
                    }
                }
                for (Path d : systemDirs) out.add(d.resolve(name));
            } else {
                out.add(workDir.resolve("build/native").resolve(name));
            }
            return new ArrayList<>(out);
        }

        private List<Path> pythonEnvironments() {
            List<Path> roots = new ArrayList<>();
            for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
                String v = env.apply(var);
                if (v != null && !v.isBlank()) roots.add(Path.of(v));
            }
            roots.addAll(pythonRoots);
            roots.add(home.resolve(".local"));
            return roots;
        }

        /** {@code lib/python3.*}{@code /site-packages} and {@code dist-packages} under an environment root. */
        private static List<Path> sitePackages(Path root) {
            List<Path> out = new ArrayList<>();
            for (Path py : children(root.resolve("lib"))) {
                if (!py.getFileName().toString().startsWith("python3")) continue;
                out.add(py.resolve("site-packages"));
                out.add(py.resolve("dist-packages"));
            }
            return out;
        }

        private String setting(String prop, String envVar) {
            String v = property.apply(prop);
            if (v == null || v.isBlank()) v = env.apply(envVar);
            return v == null || v.isBlank() ? null : v;
        }
    }

    private static List<Path> children(Path dir) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (Files.isDirectory(p)) out.add(p);
            }
        } catch (IOException | SecurityException e) {
            return out;
        }
        out.sort(null);
        return out;
    }
}
