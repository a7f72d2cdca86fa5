# Sourced by ./sdj and ./test.sh: finds a JDK >= 25 and exports JAVA_HOME. FFM itself needs 22, but
# sdj compiles with --release 25 (class files a JDK 22-24 cannot load), so 25 is the floor.
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
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  {
    echo "sdj: needs a JDK 25 or newer (sdj is compiled with --release 25 and uses the FFM API of JDK 22+); none found."
    echo "Looked at \$JAVA_HOME, then /usr/lib/jvm/*, /usr/java/*, /opt/java/*, /opt/jdk*, /usr/local/jdk*, ~/.sdkman:"
    printf '%s' "${tried:-  (nothing found)
}"
    echo "Install one (for example Temurin 25) and set JAVA_HOME to it."
  } >&2
  return 1
}
