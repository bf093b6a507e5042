#!/usr/bin/env bash
# Builds the web console's pages with Vite into OUT_DIR (Maven passes target/classes/dev/flint/cloud/console/web,
# so they are packed into the jar as classpath resources). Maven runs this in generate-resources.
# Needs Node.js 18+ and npm (Debian: apt-get install nodejs npm; bin/test installs them); without them the jar
# has no pages (unless FLINT_REQUIRE_CONSOLE=1, which makes that an error). Dependencies come
# from the npm registry exactly as package-lock.json pins them (npm ci), only when the lock file changed.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing=$(command -v node >/dev/null 2>&1 && echo npm || echo node)
    # Flint itself (run, vmm, cloud's API) does not need the pages: without Node.js the jar is built
    # without them and /console/ says so. bin/test sets FLINT_REQUIRE_CONSOLE=1, so the suite always has them.
    if [[ ${FLINT_REQUIRE_CONSOLE:-} == 1 ]]; then
        echo "flint: building the web console needs Node.js (18 or newer) and npm, and $missing is missing." >&2
        echo "flint: install them (Debian/Ubuntu: apt-get install nodejs npm; bin/test does this) and build again." >&2
        exit 1
    fi
    echo "flint: $missing is missing: building without the web console's pages (apt-get install nodejs npm, then rebuild)." >&2
    exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 18 )); then
    echo "flint: building the web console needs Node.js 18 or newer; $(command -v node) is $(node --version)." >&2
    exit 1
fi

cd "$here"
stamp=node_modules/.flint-package-lock.json
if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi
# Nothing changed since the last build: keep it (Maven runs this on every build, bin/flint after every edit).
if [[ -f $out/index.html && -z $(find index.html vite.config.js package-lock.json "$stamp" src -newer "$out/index.html" -print -quit) ]]; then
    exit 0
fi
FLINT_CONSOLE_OUT="$out" npx --no-install vite build --logLevel warn
