#!/usr/bin/env bash
# ampcap's VST3 builder: build the JUCE plugin project in SOURCE_DIR (its CMake target TARGET) into a cache
# folder and print the bundle's path. Used for RefAmp (tests/fixtures/refamp) and for every model exported
# with `python -m amptrain export format=vst3`. Reuses the bundle when the project's files did not change.
# On a fresh Debian/Ubuntu machine, as root, it installs what it needs by package name (the lean route: no
# ~300 GUI -dev packages):
#   cmake make g++ pkg-config libfreetype-dev libx11-dev libpng-dev libjpeg-dev juce-modules-source-data
# plus JUCE's CMake config and juceaide from the juce-modules-source .deb, unpacked into the cache
# (installing that .deb itself would pull ~740 MB of GUI development packages).
#
#   bash build_vst3.sh SOURCE_DIR TARGET CACHE_NAME    # prints e.g. ~/.cache/ampcap/CACHE_NAME/RefAmp.vst3
# Cache: $AMPCAP_CACHE (default ~/.cache/ampcap)/CACHE_NAME (JUCE itself: .../juce, shared).  Log: <cache>/build.log
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: build_vst3.sh SOURCE_DIR TARGET CACHE_NAME" >&2; exit 2; }
SRC="$(cd "$1" && pwd)"
TARGET="$2"
ROOT="${AMPCAP_CACHE:-$HOME/.cache/ampcap}"
CACHE="$ROOT/$3"
PACKAGES=(cmake make g++ pkg-config libfreetype-dev libx11-dev libpng-dev libjpeg-dev juce-modules-source-data)
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
say() { echo "vst3: $*" >&2; }

stamp=$( (cd "$SRC" && find . -type f \( -name CMakeLists.txt -o -path './Source/*' \) | LC_ALL=C sort | xargs cat; cat "$SELF") \
         | sha256sum | cut -c1-16)
bundle() { find "$CACHE" -maxdepth 1 -type d -name '*.vst3' | head -1; }
fresh() { [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$stamp" ] && [ -n "$(bundle)" ]; }
if fresh; then
    bundle
    exit 0
fi
mkdir -p "$CACHE"
# Parallel test workers or exports may all ask for the bundle: one builds, the others wait and reuse it.
exec 9>"$CACHE/.lock"
flock 9
if fresh; then
    bundle
    exit 0
fi

# 1. packages
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "missing packages: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})"
        exit 2
    fi
    say "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. JUCE's CMake package and juceaide, unpacked from juce-modules-source into the shared cache
ARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)"
JUCE_ROOT="$ROOT/juce"
JUCE_CMAKE="$JUCE_ROOT/usr/lib/$ARCH/cmake/JUCE-7.0.5"
if [ ! -f "$JUCE_CMAKE/JUCEConfig.cmake" ]; then
    exec 8>"$ROOT/.juce.lock"
    flock 8
    if [ ! -f "$JUCE_CMAKE/JUCEConfig.cmake" ]; then
        say "unpacking juce-modules-source (CMake config and juceaide) into $JUCE_ROOT"
        tmp="$(mktemp -d)"
        (cd "$tmp" && { apt-get download juce-modules-source >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null && apt-get download juce-modules-source >/dev/null 2>&1; }; })
        rm -rf "$JUCE_ROOT.tmp" && dpkg -x "$tmp"/juce-modules-source_*.deb "$JUCE_ROOT.tmp"
        # its config names /usr/lib/<arch>/... absolutely: point those at the unpacked copy
        grep -rl "/usr/lib/$ARCH" "$JUCE_ROOT.tmp/usr/lib/$ARCH/cmake" | xargs sed -i "s#/usr/lib/$ARCH#$JUCE_ROOT/usr/lib/$ARCH#g"
        rm -rf "$JUCE_ROOT" && mv "$JUCE_ROOT.tmp" "$JUCE_ROOT" && rm -rf "$tmp"
    fi
fi

# 3. build (Release) from a copy of the sources in the cache (the build folder stays valid wherever the
#    project lives or moves), then swap the bundle in atomically
say "building $TARGET (about 2-3 minutes on 2 cores; log in $CACHE/build.log)"
start=$(date +%s)
rm -rf "$CACHE/src" && mkdir -p "$CACHE/src" && cp -r "$SRC/CMakeLists.txt" "$SRC/Source" "$CACHE/src/"
# a build folder configured from another source folder (an older builder) cannot be reused
grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$CACHE/src" "$CACHE/build/CMakeCache.txt" 2>/dev/null || rm -rf "$CACHE/build"
{
    cmake -S "$CACHE/src" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release -DJUCE_DIR="$JUCE_CMAKE"
    cmake --build "$CACHE/build" --config Release -j"$(nproc)"
} >"$CACHE/build.log" 2>&1 || { say "build failed; the last lines of $CACHE/build.log:"; tail -20 "$CACHE/build.log" >&2; exit 1; }
built="$(find "$CACHE/build/${TARGET}_artefacts" -type d -name '*.vst3' -path '*VST3*' | head -1)"
[ -n "$built" ] || { say "build produced no VST3 bundle"; exit 1; }
name="$(basename "$built")"
rm -rf "$CACHE/.new.vst3" && cp -r "$built" "$CACHE/.new.vst3"
find "$CACHE" -maxdepth 1 -type d -name '*.vst3' ! -name '.new.vst3' -exec rm -rf {} +
mv "$CACHE/.new.vst3" "$CACHE/$name"
echo "$stamp" >"$CACHE/stamp"
say "built in $(( $(date +%s) - start )) s"
echo "$CACHE/$name"
