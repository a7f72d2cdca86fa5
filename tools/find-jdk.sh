# Sourced by ./sdj, ./test.sh and .ci/run: finds a JDK >= 22 (FFM) and exports JAVA_HOME.
# Order: $JAVA_HOME, then the usual install locations of Linux distributions.
sdj_java_major() {  # prints the feature version of the JDK at $1, or nothing
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

sdj_find_jdk() {
  local c v tried=""
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /usr/local/jdk* "$HOME"/.sdkman/candidates/java/*; do
    [ -n "$c" ] && [ -d "$c" ] || continue
    v=$(sdj_java_major "$c")
    tried="$tried  $c${v:+ (Java $v)}"$'\n'
    if [ -n "$v" ] && [ "$v" -ge 22 ]; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  {
    echo "sdj: needs a JDK 22 or newer (the Foreign Function & Memory API); Java 25 is what sdj is built and tested with."
    echo "Looked at \$JAVA_HOME, then /usr/lib/jvm/*, /usr/java/*, /opt/java/*, /opt/jdk*, /usr/local/jdk*, ~/.sdkman:"
    printf '%s' "${tried:-  (nothing found)
}"
    echo "Install one (for example Temurin 25) and set JAVA_HOME to it."
  } >&2
  return 1
}
