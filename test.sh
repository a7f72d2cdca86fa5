#!/usr/bin/env bash
# Runs every test of sdj: builds the CUDA kernels when nvcc is present, then the Maven build with
# all unit, integration and golden tests. GPU tests skip with their reason on a machine without one.
set -euo pipefail
cd "$(dirname "$0")"
source tools/find-jdk.sh
sdj_find_jdk
source tools/build-native.sh
sdj_build_native
echo "sdj: JDK $JAVA_HOME; native kernels built: $SDJ_NATIVE_BUILT" >&2
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
exec mvn -B -ntp verify -Dsdj.native.expected="$SDJ_NATIVE_BUILT" -Dsdj.native.dir="$PWD/build/native" "$@"
