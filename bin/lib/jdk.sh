# Finds a JDK that can build and run Flint (Java 25 or newer). Sourced by bin/flint and bin/test.
#
# flint_find_jdk prints the JDK's home directory and returns 0, or returns 1 if none is found.
# Candidates, in order: $JAVA_HOME, every JDK under /usr/lib/jvm (names in descending version order), then
# the `java` on PATH. The first whose `release` file (or `java -version`) says 25 or newer wins.
# FLINT_JDK_DIRS (space-separated) replaces /usr/lib/jvm, for tests of this script.

FLINT_MIN_JAVA=25

# The feature release of the JDK at $1 (e.g. 25), or nothing if $1 is not a JDK with javac.
flint_jdk_feature() {
    local home=$1 version
    [[ -x "$home/bin/java" && -x "$home/bin/javac" ]] || return 1
    # A JDK's `release` file says JAVA_VERSION="25.0.1": reading it costs nothing, while asking
    # `java -version` starts a JVM on every launch. Without the file, ask. Read with bash alone: every
    # process started here is start-up time of every flint command.
    if [[ -f "$home/release" ]]; then
        local line
        while IFS= read -r line || [[ -n $line ]]; do
            if [[ $line =~ ^JAVA_VERSION=\"([^\"]*)\" ]]; then version=${BASH_REMATCH[1]}; break; fi
        done < "$home/release"
    fi
    if [[ -z ${version:-} ]]; then
        # `java -version` prints e.g.: openjdk version "25.0.1" 2025-10-21 (or "1.8.0_402" on old JDKs).
        version=$("$home/bin/java" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n1)
    fi
    version=${version#1.}
    version=${version%%[.+-]*}
    [[ $version =~ ^[0-9]+$ ]] || return 1
    echo "$version"
}

flint_find_jdk() {
    local candidates=() home feature
    # A suitable JAVA_HOME wins: settle it before listing the others (that costs a few processes).
    if [[ -n ${JAVA_HOME:-} ]] && feature=$(flint_jdk_feature "${JAVA_HOME%/}") && (( feature >= FLINT_MIN_JAVA )); then
        echo "${JAVA_HOME%/}"
        return 0
    fi
    local dir
    for dir in ${FLINT_JDK_DIRS-/usr/lib/jvm}; do
        compgen -G "$dir/*/" >/dev/null || continue
        while IFS= read -r home; do candidates+=("$home"); done < <(ls -d "$dir"/*/ | sort -rV)
    done
    if command -v java >/dev/null 2>&1; then
        home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
        candidates+=("$home")
    fi
    for home in "${candidates[@]}"; do
        home=${home%/}
        feature=$(flint_jdk_feature "$home") || continue
        if (( feature >= FLINT_MIN_JAVA )); then
            echo "$home"
            return 0
        fi
    done
    return 1
}

# Exports JAVA_HOME to a suitable JDK, or prints one line and exits 1.
flint_require_jdk() {
    local home
    if ! home=$(flint_find_jdk); then
        echo "flint: no JDK $FLINT_MIN_JAVA or newer found (looked at JAVA_HOME, /usr/lib/jvm/*, java on PATH); install one, e.g. Temurin 25" >&2
        exit 1
    fi
    export JAVA_HOME=$home
}
