#!/usr/bin/env bash
# build_windows.sh cross-compiles dist/windows/trayphone.exe (amd64) on Debian with mingw-w64,
# with cgo: sound (PortAudio with its WASAPI and WinMM hosts), Opus, speexdsp and G.722 (the
# g722 part of spandsp), each built as a static library from Debian's source package
# (`apt-get source`) and cached under build/windows/ (delete that directory to rebuild them).
# The exe links them statically and needs no DLL besides Windows' own.
# Needs: scripts/setup.sh --windows (mingw-w64, dpkg-dev, deb-src lines for apt-get source).
# Usage: scripts/build_windows.sh [-o OUT.exe] [--overlay FILE.json]
#   --overlay passes a go build -overlay file (scripts/test_windows.sh builds its Wine-only exe so).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=dist/windows/trayphone.exe
overlay=()
while [ $# -gt 0 ]; do
  case $1 in
    -o) out=$2; shift 2 ;;
    --overlay) overlay=(-overlay "$2"); shift 2 ;;
    *) echo "usage: scripts/build_windows.sh [-o OUT.exe] [--overlay FILE.json]" >&2; exit 2 ;;
  esac
done
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
host=x86_64-w64-mingw32
command -v $host-gcc >/dev/null || { echo "build_windows: $host-gcc is missing: run scripts/setup.sh --windows" >&2; exit 1; }
build=$root/build/windows
prefix=$build/prefix
src=$build/src
mkdir -p "$prefix" "$src"
jobs=$(nproc)

# fetch PKG unpacks Debian's source package PKG into $src/PKG-*, once (the orig tarball alone
# when the archive no longer has the Debian diff: only upstream's code is built).
fetch() {
  local pkg=$1 d
  d=$(ls -d "$src/$pkg"-*/ 2>/dev/null | head -1)
  if [ -z "$d" ]; then
    (cd "$src" && apt-get source -qq --download-only --only-source "$pkg" >/dev/null 2>&1 || true
     if ls "$pkg"_*.debian.tar.* >/dev/null 2>&1; then dpkg-source -x --no-check "$pkg"_*.dsc >/dev/null 2>&1
     elif ls "$pkg"_*.orig.tar.* >/dev/null 2>&1; then tar xf "$pkg"_*.orig.tar.*
     else echo "build_windows: apt-get source $pkg failed: is there a deb-src line? (scripts/setup.sh --windows adds one)" >&2; exit 1; fi) || exit 1
    d=$(ls -d "$src/$pkg"-*/ | head -1)
  fi
  echo "${d%/}"
}

# configure_make DIR ARGS... builds an autotools package for the Windows host into $prefix.
# Optimisation flags are the package's own; -D_FORTIFY_SOURCE, which Opus' configure adds
# whatever it is told, is taken out: its checks live in libssp, which the exe does not link.
configure_make() {
  local dir=$1; shift
  (cd "$dir" && { [ -x configure ] || autoreconf -fi >/dev/null; } &&
    ./configure -q --host=$host --prefix="$prefix" --enable-static --disable-shared "$@" >/dev/null &&
    find . -name Makefile -exec sed -i 's/-D_FORTIFY_SOURCE=[0-9]//g' {} + &&
    make -s -j"$jobs" >/dev/null 2>"$build/make.log" && make -s install >/dev/null)
}

if [ ! -f "$prefix/lib/libopus.a" ]; then
  echo "build_windows: building Opus"
  d=$(fetch opus)
  configure_make "$d" --disable-doc --disable-extra-programs
fi
if [ ! -f "$prefix/lib/libspeexdsp.a" ]; then
  echo "build_windows: building speexdsp"
  d=$(fetch speexdsp)
  configure_make "$d" --disable-examples
fi
if [ ! -f "$prefix/lib/libportaudio.a" ]; then
  echo "build_windows: building PortAudio (WASAPI, WinMM)"
  d=$(fetch portaudio19)
  # PortAudio 19.6's WASAPI host includes the SDK headers only for MSVC and otherwise its own
  # old copies, which lack what mingw-w64's have: use mingw-w64's headers (lower-case names,
  # PKEY_Device_FriendlyName from functiondiscoverykeys_devpkey.h).
  w=$d/src/hostapi/wasapi
  if [ -d "$w/mingw-include" ] && [ ! -d "$w/mingw-include.unused" ]; then
    mv "$w/mingw-include" "$w/mingw-include.unused" && mkdir "$w/mingw-include"
    sed -i -e 's|^#if defined(_MSC_VER) && (_MSC_VER >= 1400)$|#if (defined(_MSC_VER) \&\& (_MSC_VER >= 1400)) \|\| defined(__MINGW64_VERSION_MAJOR)|' \
      -e 's|#include <Avrt.h>|#include <avrt.h>|; s|#include <Audioclient.h>|#include <audioclient.h>|' \
      -e 's|^\(\s*\)#include <functiondiscoverykeys.h>|\1#include <functiondiscoverykeys_devpkey.h>|' "$w/pa_win_wasapi.c"
  fi
  configure_make "$d" --with-winapi=wmme,wasapi --without-jack --without-alsa
fi
if [ ! -f "$prefix/lib/libspandsp.a" ]; then
  echo "build_windows: building G.722 from spandsp"
  d=$(fetch spandsp)
  "$root/packaging/windows/build_g722.sh" "$d" "$prefix" "$host"
fi

# cgo runs pkg-config --libs: ask for the static libraries' dependencies too (Libs.private).
cat >"$build/pkg-config" <<PC
#!/bin/sh
PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" exec pkg-config --static "\$@"
PC
chmod +x "$build/pkg-config"

# Go's build cache does not hash headers outside the module: name the libraries' state in the
# flags so that rebuilt libraries are compiled against, not a cached object.
libs=$(cd "$prefix" && find include lib -type f | sort | xargs sha256sum | sha256sum | cut -c1-16)

mkdir -p "$(dirname "$out")"
echo "build_windows: go build -> $out"
CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$host-gcc CXX=$host-g++ PKG_CONFIG="$build/pkg-config" \
  CGO_CFLAGS="-O2 -g -DTRAYPHONE_WINDOWS_LIBS=$libs" \
  CGO_LDFLAGS="-static -static-libgcc" \
  go build "${overlay[@]}" -tags nolibopusfile -trimpath -ldflags "-s -w" -o "$out" .
echo "build_windows: $(du -h "$out" | cut -f1) $out"
