#!/usr/bin/env bash
# Builds build/device-bundle/ (and build/device-bundle.tar.xz): everything a GPU machine with no JDK and no
# network needs to run sdj's GPU tests, the golden cases on CUDA and the U-Net benchmark (tools/device/README.md).
#
#   tools/device/bundle.sh [--golden gpu|all|none]
#
#   --golden gpu   (default) the golden cases the backend computes (unet, vae-decode, vae-encode, e2e: what
#                  `sdj golden --backend cuda` and the GPU tests read), with their models and data, about 25 MB
#   --golden all   the whole tests/golden (42 MB; the bundle then exceeds the device tool's 64 MiB carry limit)
#   --golden none  no golden data; run.sh then uses the repository's tests/golden next to the bundle
#
# Environment: MVN_ARGS (extra Maven arguments, e.g. -o), SDJ_BUNDLE_SKIP_CHECK=1 (skip the CPU self-check).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

golden_mode=gpu
while [ $# -gt 0 ]; do
  case "$1" in
    --golden) golden_mode=${2:?--golden needs gpu, all or none}; shift 2 ;;
    --golden=*) golden_mode=${1#--golden=}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bundle.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$golden_mode" in gpu|all|none) ;; *) echo "bundle.sh: --golden must be gpu, all or none" >&2; exit 2 ;; esac

out=build/device-bundle
tarball=build/device-bundle.tar.xz
say() { echo "bundle: $*" >&2; }

source tools/find-jdk.sh
sdj_find_jdk
say "JDK $JAVA_HOME"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

# ---- native kernels (sm_80 and sm_90a, see CMakeLists.txt) ----
source tools/build-native.sh
sdj_build_native
if [ ! -f build/native/libsdj_kernels.so ]; then
  say "build/native/libsdj_kernels.so was not built (no nvcc?): the CUDA backend needs it. Install the CUDA toolkit."
  exit 1
fi

# ---- jars and test classes ----
say "mvn package (all modules, tests compiled, not run) ..."
mvn -B -q -ntp -Dstyle.color=never ${MVN_ARGS:-} package -DskipTests -Dsdj.native.dir="$PWD/build/native" >&2
junit_version=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' pom.xml | head -n 1)
[ -n "$junit_version" ] || { say "no <junit.version> in pom.xml"; exit 1; }

rm -rf "$out" "$tarball"
mkdir -p "$out/lib" "$out/test" "$out/native"
cp java/target/sdj-core-*.jar "$out/lib/"
cp java/target/lib/*.jar "$out/lib/"          # sdj-bindings, jackson, picocli (runtime scope)
for m in bindings java tests; do
  [ -d "$m/target/test-classes" ] || { say "$m/target/test-classes missing"; exit 1; }
  name=$(case $m in bindings) echo sdj-bindings ;; java) echo sdj-core ;; tests) echo sdj-tests ;; esac)
  "$JAVA_HOME/bin/jar" --create --file "$out/test/$name-tests.jar" -C "$m/target/test-classes" .
done
# The console launcher's standalone jar carries JUnit Jupiter (api, engine, params) and the platform: the test
# jars need nothing else (a second copy of the engine on the class path would make two engines with one id).
say "JUnit console launcher $junit_version ..."
mvn -B -q -ntp -Dstyle.color=never ${MVN_ARGS:-} -N org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy \
  -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_version" -DoutputDirectory="$PWD/$out/test" >&2
cp build/native/libsdj_kernels.so "$out/native/"

# The U-Net configs the benchmarks build from, and, for the side-by-side run, diffusers' source, the
# whole package (DIFFUSERS_SRC: a checkout of huggingface/diffusers, or its bare git folder): fetched for the run,
# never committed; run.sh puts it on PYTHONPATH beside the GPU machine's PyTorch.
mkdir -p "$out/configs"
cp java/src/main/resources/dev/sdj/configs/sd15/unet/config.json "$out/configs/sd15-unet.json"
cp java/src/main/resources/dev/sdj/configs/sdxl-base/unet/config.json "$out/configs/sdxl-unet.json"
cp tools/device/diffusers_bench.py "$out/"
if [ -n "${DIFFUSERS_SRC:-}" ]; then
  dtmp=$(mktemp -d)
  if [ -d "$DIFFUSERS_SRC/src/diffusers" ]; then cp -r "$DIFFUSERS_SRC/src/diffusers" "$dtmp/"
  else git --git-dir="$DIFFUSERS_SRC" archive HEAD src/diffusers | tar -x -C "$dtmp" --strip-components=1; fi
  find "$dtmp" -name '__pycache__' -prune -exec rm -rf {} +
  XZ_OPT=-9 tar -cJf "$out/diffusers.tar.xz" -C "$dtmp" diffusers
  rm -rf "$dtmp"
  say "diffusers source packed ($(du -h "$out/diffusers.tar.xz" | cut -f1))"
else
  say "no DIFFUSERS_SRC: the bundle runs no diffusers side-by-side benchmark"
fi

# ---- Java runtime: jlink with the modules the jars use ----
# jdeps also names java.desktop (jackson-databind's optional java.beans support, which it does without) and the
# test launcher's optional jdk.jfr: both left out. Added: java.xml (JUnit's XML reports), jdk.zipfs (the "jar"
# file system JUnit scans the test jars with, a service jdeps does not see), jdk.unsupported (sun.misc.Unsafe).
deps=$("$JAVA_HOME/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 25 \
  "$out"/lib/*.jar "$out"/test/*.jar 2>/dev/null | tail -n 1)
modules=$(printf '%s\n' ${deps//,/ } java.base java.logging java.xml jdk.zipfs jdk.unsupported jdk.incubator.vector \
  | grep -v -x -e java.desktop -e jdk.jfr | sort -u | paste -sd, -)
say "jlink $modules"
jre_tmp=$(mktemp -d)
trap 'rm -rf "$jre_tmp"' EXIT
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --output "$jre_tmp/jre" 2>&1 | { grep -v 'Using incubator modules' >&2 || true; }
# HotSpot's libjvm.so ships with its symbol table (5 MB); the dynamic symbols stay.
if command -v strip >/dev/null 2>&1; then find "$jre_tmp/jre" -name '*.so' -exec strip --strip-unneeded {} +; fi
"$jre_tmp/jre/bin/java" -version >/dev/null 2>&1 || { say "the jlink'd runtime does not start"; exit 1; }
# Packed with xz, lib/modules left uncompressed by jlink so that xz sees it whole: 72 MB -> about 14 MB
# (zip-9 modules + gzip gave 27 MB). The device tool carries at most 64 MiB with the working tree; run.sh
# unpacks it once (tar -J, or Python's lzma where xz is missing).
XZ_OPT=-9 tar -cJf "$out/jre.tar.xz" -C "$jre_tmp" jre

# ---- golden data ----
case "$golden_mode" in
  all) cp -r tests/golden "$out/golden" ;;
  gpu)
    command -v python3 >/dev/null 2>&1 || { say "--golden gpu needs python3 to select the cases (or use --golden all|none)"; exit 1; }
    python3 - tests/golden "$out/golden" <<'PY'
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
KINDS = {"unet", "vae-decode", "vae-encode", "e2e"}   # GoldenRunner.BACKEND_KINDS
index = json.load(open(os.path.join(src, "cases.json")))
cases = [c for c in index["cases"] if c.get("kind") in KINDS]
paths = set()
def refs(node):
    # every "file" of a Ref, at any depth
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "file" and isinstance(v, str): paths.add(v)
            else: refs(v)
    elif isinstance(node, list):
        for v in node: refs(v)
for c in cases:
    for k in ("model", "config", "file", "scheduler_config"):
        if isinstance(c.get(k), str): paths.add(c[k])
    paths.update(v for v in (c.get("models") or {}).values() if isinstance(v, str))
    refs(c)
os.makedirs(dst)
for p in sorted(paths):
    s, d = os.path.join(src, p), os.path.join(dst, p)
    if not os.path.exists(s): sys.exit("cases.json names %s, which is not in %s" % (p, src))
    os.makedirs(os.path.dirname(d), exist_ok=True)
    if os.path.isdir(s): shutil.copytree(s, d, dirs_exist_ok=True)
    else: shutil.copy2(s, d)
index["cases"] = cases
index["num_cases"] = len(cases)
index["bundle_note"] = "device bundle: only the %s cases of tests/golden (tools/device/bundle.sh --golden gpu)" % ", ".join(sorted(KINDS))
json.dump(index, open(os.path.join(dst, "cases.json"), "w"), indent=1)
for extra in ("README.md", "tolerances.json"):
    shutil.copy2(os.path.join(src, extra), os.path.join(dst, extra))
print("bundle: golden: %d cases, %d paths" % (len(cases), len(paths)), file=sys.stderr)
PY
    ;;
  none) ;;
esac

# ---- run.sh, README, what was built ----
cp tools/device/run.sh "$out/run.sh"
chmod +x "$out/run.sh"
cp tools/device/README.md "$out/README.md"
{
  echo "sdj device bundle"
  echo "built:    $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "commit:   $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "branch:   $(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)"
  echo "jdk:      $("$JAVA_HOME/bin/java" -version 2>&1 | sed -n 2p)"
  echo "modules:  $modules"
  echo "junit:    $junit_version (console standalone)"
  echo "golden:   $golden_mode"
  if command -v cuobjdump >/dev/null 2>&1; then
    echo "kernels:  $(cuobjdump --list-elf build/native/libsdj_kernels.so 2>/dev/null | grep -o 'sm_[0-9a-z]*' | sort -u | paste -sd' ' -)"
  else
    echo "kernels:  $(grep -rho 'code=\[*sm_[0-9a-z]*' build/native/CMakeFiles/sdj_kernels.dir/flags.make 2>/dev/null \
      | grep -o 'sm_[0-9a-z]*' | sort -u | paste -sd' ' -) (nvcc flags)"
  fi
  echo "nvcc:     $(nvcc --version 2>/dev/null | tail -n 1 || echo '?')"
} > "$out/BUNDLE.txt"

# ---- self-check on this machine: the jlink'd runtime runs the CLI on the bundled golden data (CPU) ----
if [ "${SDJ_BUNDLE_SKIP_CHECK:-0}" != 1 ] && [ -d "$out/golden" ]; then
  say "self-check: sdj golden on the CPU with the bundled runtime ..."
  tar -xJf "$out/jre.tar.xz" -C "$jre_tmp"
  if ! "$jre_tmp/jre/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
      -cp "$out/lib/*" dev.sdj.cli.Main golden "$out/golden" --backend cpu > "$jre_tmp/check.log" 2>&1; then
    cat "$jre_tmp/check.log" >&2
    say "self-check failed (log above)"
    exit 1
  fi
  say "self-check: $(tail -n 1 "$jre_tmp/check.log")"
fi

XZ_OPT="${XZ_OPT:--6 -T0}" tar -cJf "$tarball" -C build device-bundle
say "contents:"
du -sh "$out"/* | sed 's/^/  /' >&2
folder_mib=$(du -sm "$out" | cut -f1)
echo "bundle: $out  $(du -sh "$out" | cut -f1) ($(du -sb "$out" | cut -f1) bytes)"
echo "bundle: $tarball  $(du -sh "$tarball" | cut -f1) ($(stat -c %s "$tarball") bytes)"
if [ "$folder_mib" -gt 64 ]; then
  say "WARNING: the folder is over the device tool's 64 MiB carry limit (try --golden gpu or none)"
fi
