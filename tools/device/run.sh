#!/usr/bin/env bash
# sdj on a GPU machine with no JDK and no network, from the device bundle (tools/device/bundle.sh builds it;
# tools/device/README.md). Runs, each stage under its own timeout, a failing one not stopping the next:
#   cpu-golden       sdj golden on the CPU (a check of the bundle itself)
#   cuda-info        CUDA runtime, driver, devices, cuBLAS, cuDNN and the library files loaded (sdj bench --info)
#   gpu-tests        the JUnit classes named *Cuda*Test / *Gpu*Test / NativeKernels*Test of the bundled test jars
#   golden-cuda-fp32 sdj golden --backend cuda --dtype fp32 (every case's own limits)
#   golden-cuda-fp16 sdj golden --backend cuda --dtype fp16 (reduced-precision limits, see sdj golden --help)
#   bench-sd15       sdj bench --backend cuda --dtype fp16, SD1.5 U-Net 512x512, CFG batch 2, 20 steps after 3 warm-up
#   bench-sdxl       the same for the SDXL U-Net at 1024x1024
# then a summary table (stage, status, seconds, key figure). Everything is printed and written to the results
# folder: $SDJ_RESULTS, else $OUT/results when $OUT is set (the device tool brings $OUT back), else ./results.
# The whole run stays within SDJ_RUN_BUDGET seconds (default 470, under 8 minutes). Exit status 0 when every
# stage passed, else 1.
set -u
B=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s)
BUDGET=${SDJ_RUN_BUDGET:-470}
DEADLINE=$((T0 + BUDGET))
if [ -n "${SDJ_RESULTS:-}" ]; then R=$SDJ_RESULTS
elif [ -n "${OUT:-}" ]; then R=$OUT/results
else R=$PWD/results; fi
mkdir -p "$R" || { echo "run.sh: cannot create $R" >&2; exit 1; }
R=$(cd "$R" && pwd)
: > "$R/run.log"
log() { printf '%s\n' "$*" | tee -a "$R/run.log"; }

# ---- the Java runtime: packed in the bundle, unpacked outside it (a carried bundle stays small), once ----
JRE=$B/jre
if [ ! -x "$JRE/bin/java" ] && [ -f "$B/jre.tar.xz" ]; then
  jre_home=${TMPDIR:-/tmp}/sdj-jre-$(cksum < "$B/jre.tar.xz" | cut -d' ' -f1)
  if [ ! -x "$jre_home/jre/bin/java" ]; then
    rm -rf "$jre_home.tmp" && mkdir -p "$jre_home.tmp"
    # tar -J needs xz; Python's lzma (the GPU machine has python3) does the same where xz is missing.
    if command -v xz >/dev/null 2>&1; then tar -xJf "$B/jre.tar.xz" -C "$jre_home.tmp"
    else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$B/jre.tar.xz" "$jre_home.tmp"
    fi && chmod -R u+x "$jre_home.tmp/jre/bin" "$jre_home.tmp/jre/lib" && rm -rf "$jre_home" && mv "$jre_home.tmp" "$jre_home"
  fi
  JRE=$jre_home/jre
fi
JAVA=$JRE/bin/java
[ -x "$JAVA" ] || { log "run.sh: no Java runtime in the bundle ($B/jre or $B/jre.tar.xz)"; exit 1; }

# ---- golden data: the bundle's, else the repository's next to it (the device tool copies the work tree) ----
if [ -n "${SDJ_GOLDEN:-}" ]; then GOLDEN=$SDJ_GOLDEN
elif [ -f "$B/golden/cases.json" ]; then GOLDEN=$B/golden
elif [ -f "$B/../../tests/golden/cases.json" ]; then GOLDEN=$(cd "$B/../../tests/golden" && pwd)
else GOLDEN=; fi

FLAGS=(--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Dsdj.native.dir="$B/native")
# shellcheck disable=SC2206
EXTRA=(${SDJ_JAVA_OPTS:-})
SDJ=("$JAVA" "${FLAGS[@]}" "${EXTRA[@]}" -cp "$B/lib/*" dev.sdj.cli.Main)

# ---- header ----
{
  echo "== sdj device run =="
  echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host:      $(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null || echo '?'), $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs"
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "nvidia-smi:"
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | sed 's/^/  /'
  else
    echo "nvidia-smi: not found (no NVIDIA driver on this machine)"
  fi
  echo "java:      $("$JAVA" -version 2>&1 | sed -n 2p)"
  echo "bundle:    $B"
  sed 's/^/  /' "$B/BUNDLE.txt" 2>/dev/null
  echo "golden:    ${GOLDEN:-none found}"
  echo "results:   $R"
  echo "budget:    ${BUDGET}s"
} 2>&1 | tee "$R/header.txt" | tee -a "$R/run.log"

# ---- stages ----
N=0
SUMMARY=()
# stage NAME CAP_SECONDS KEY_FUNCTION WORKDIR -- COMMAND...
stage() {
  local name=$1 cap=$2 keyfn=$3 dir=$4
  shift 5
  N=$((N + 1))
  local logf
  logf=$R/$(printf '%02d' "$N")-$name.log
  local left=$((DEADLINE - $(date +%s) - 5))
  if [ "$left" -lt 10 ]; then
    log ""
    log "== $name: skipped, the run's ${BUDGET}s budget is spent"
    SUMMARY+=("$(printf '%-17s %-8s %6s  %s' "$name" SKIP 0 "no time left")")
    return
  fi
  local t=$cap
  [ "$left" -lt "$t" ] && t=$left
  log ""
  log "== $name (timeout ${t}s): $*"
  local s0 s1 rc
  s0=$(date +%s.%N)
  (cd "$dir" && timeout -k 5 "$t" "$@") 2>&1 | tee "$logf"
  rc=${PIPESTATUS[0]}
  s1=$(date +%s.%N)
  cat "$logf" >> "$R/run.log"
  local secs status key
  secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }')
  case $rc in
    0) status=PASS ;;
    124|137) status=TIMEOUT ;;
    *) status="FAIL($rc)" ;;
  esac
  key=$("$keyfn" "$logf" 2>/dev/null | head -n 1 | cut -c1-110)
  [ "$status" = TIMEOUT ] && key="killed after ${t}s${key:+; $key}"
  log "== $name: $status in ${secs}s${key:+ ($key)}"
  SUMMARY+=("$(printf '%-17s %-8s %6s  %s' "$name" "$status" "$secs" "$key")")
}

# Key figures, from a stage's log; where a stage has none, the CUDA error (no device, a failed call) that stopped it.
cuda_error() {
  if grep -q 'no CUDA device' "$1"; then
    echo "no CUDA device$(grep -q 'no NVIDIA driver' "$1" && echo ' (no NVIDIA driver)')"
  else
    grep -m1 -o -E 'CUDA backend: .*|cannot load the CUDA runtime.*|CudaException.*|[a-zA-Z]+ failed: (cuda|CUBLAS|CUDNN).*' "$1"
  fi
}
key_golden() {
  local counts
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$1" | tail -n 1)
  if [ -n "$counts" ]; then echo "$counts"; else cuda_error "$1" || grep -m1 '^sdj golden:' "$1"; fi
}
key_info() {
  local d
  d=$(grep -m1 '^devices:' "$1" | sed 's/^devices: *//')
  case $d in
    unavailable*) cuda_error "$1" || echo "$d" ;;
    *) echo "$d" | sed 's/^[0-9]*; 0: //' ;;
  esac
}
junit_count() { grep -m1 -E "\[ +[0-9]+ $2 +\]" "$1" | grep -o -E '[0-9]+' | head -n 1; }
key_junit() {
  grep -q 'tests successful' "$1" || { grep -m1 -E 'Error|Exception' "$1"; return; }
  echo "tests: $(junit_count "$1" 'tests successful') ok, $(junit_count "$1" 'tests failed') failed," \
    "$(junit_count "$1" 'tests aborted') aborted, $(junit_count "$1" 'tests skipped') skipped;" \
    "$(junit_count "$1" 'containers aborted') classes aborted (no device: assumptions)"
}
key_bench() {
  local m
  m=$(grep -m1 '^ms/step:' "$1" | sed 's/^ms\/step: *//')
  if [ -n "$m" ]; then echo "ms/step $m; $(grep -m1 '^steps/s:' "$1" | sed 's/^steps\/s: *//; s/ (median)//') steps/s"
  else cuda_error "$1" || grep -m1 '^sdj bench:' "$1"; fi
}

if [ -n "$GOLDEN" ]; then
  stage cpu-golden 30 key_golden "$B" -- "${SDJ[@]}" golden "$GOLDEN" --backend cpu
else
  SUMMARY+=("$(printf '%-17s %-8s %6s  %s' cpu-golden SKIP 0 "no golden data")")
fi
stage cuda-info 30 key_info "$B" -- "${SDJ[@]}" bench --backend cuda --info

# The GPU test classes; JUnit's own engines come from the standalone jar. Golden.root() finds "golden" or
# "tests/golden" under the working folder.
junit_jar=$(ls "$B"/test/junit-platform-console-standalone-*.jar 2>/dev/null | head -n 1)
test_cp=$(ls "$B"/lib/*.jar "$B"/test/sdj-*-tests.jar | paste -sd: -)
junit_dir=$B
if [ -n "$GOLDEN" ] && [ "$GOLDEN" != "$B/golden" ]; then
  case $GOLDEN in */tests/golden) junit_dir=$(dirname "$(dirname "$GOLDEN")") ;; esac
fi
stage gpu-tests 100 key_junit "$junit_dir" -- "$JAVA" "${FLAGS[@]}" -Dsdj.native.expected=true "${EXTRA[@]}" \
  -jar "$junit_jar" execute --class-path "$test_cp" --scan-class-path \
  --include-classname '.*(Cuda|Gpu|NativeKernels).*Test' --include-engine junit-jupiter \
  --reports-dir "$R/junit" --details tree --disable-banner --disable-ansi-colors

if [ -n "$GOLDEN" ]; then
  stage golden-cuda-fp32 60 key_golden "$B" -- "${SDJ[@]}" golden "$GOLDEN" --backend cuda --dtype fp32
  stage golden-cuda-fp16 60 key_golden "$B" -- "${SDJ[@]}" golden "$GOLDEN" --backend cuda --dtype fp16
else
  SUMMARY+=("$(printf '%-17s %-8s %6s  %s' golden-cuda SKIP 0 "no golden data")")
fi
# diffusers beside sdj: the same configs, fp16, CFG batch 2, on this GPU in this run.
key_diffusers() {
  local m
  m=$(grep -m1 '^ms/step:' "$1" | sed 's/^ms\/step: *//')
  if [ -n "$m" ]; then echo "diffusers ms/step $m"; else grep -m1 -E 'Error|error' "$1"; fi
}
dsrc=
if [ -f "$B/diffusers.tar.xz" ] && command -v python3 >/dev/null 2>&1; then
  dsrc=${TMPDIR:-/tmp}/sdj-diffusers
  rm -rf "$dsrc" && mkdir -p "$dsrc" && python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
    "$B/diffusers.tar.xz" "$dsrc" || dsrc=
fi
# bench_pair MODEL SIZE SDJ_CAP DIFFUSERS_CAP: sdj's U-Net step, then diffusers' on the same shapes, then the ratio.
bench_pair() {
  local m=$1 size=$2
  stage "bench-$m" "$3" key_bench "$B" -- "${SDJ[@]}" bench --backend cuda --dtype fp16 \
    --model "$m" --height "$size" --width "$size" --batch 1 --steps 20 --warmup 3 --loop 20
  if [ -z "$dsrc" ]; then
    SUMMARY+=("$(printf '%-17s %-8s %6s  %s' "diffusers-$m" SKIP 0 "no diffusers.tar.xz in the bundle (DIFFUSERS_SRC) or no python3")")
    return
  fi
  stage "diffusers-$m" "$4" key_diffusers "$B" -- env PYTHONPATH="$dsrc${PYTHONPATH:+:$PYTHONPATH}" python3 "$B/diffusers_bench.py" \
    --config "$B/configs/$m-unet.json" --name "$m" --height "$size" --width "$size" --batch 2 --steps 20 --warmup 3
  local s d
  s=$(grep -h -m1 '^ms/step:' "$R"/*-bench-"$m".log 2>/dev/null | grep -o -E 'median [0-9.]+' | cut -d' ' -f2)
  d=$(grep -h -m1 '^ms/step:' "$R"/*-diffusers-"$m".log 2>/dev/null | grep -o -E 'median [0-9.]+' | cut -d' ' -f2)
  if [ -n "$s" ] && [ -n "$d" ]; then
    SUMMARY+=("$(printf '%-17s %-8s %6s  %s' "ratio-$m" INFO 0 "sdj/diffusers = $(awk -v a="$s" -v b="$d" 'BEGIN { printf "%.2f", a / b }') ($s vs $d ms per CFG step)")")
  fi
}
bench_pair sd15 512 60 60
bench_pair sdxl 1024 110 90

# ---- summary ----
{
  echo ""
  echo "== summary ($(($(date +%s) - T0)) s in all; logs in $R) =="
  printf '%-17s %-8s %6s  %s\n' stage status seconds "key figure"
  printf '%s\n' "${SUMMARY[@]}"
} | tee "$R/summary.txt" | tee -a "$R/run.log"

failed=$(printf '%s\n' "${SUMMARY[@]}" | awk '$2 != "PASS" && $2 != "INFO"' | wc -l)
[ "$failed" -eq 0 ]
