#!/usr/bin/env bash
# build_g722.sh SRC PREFIX HOST builds the G.722 codec of spandsp's source tree SRC (Debian's
# spandsp source package) as a static libspandsp.a for HOST, with its headers and a spandsp.pc,
# into PREFIX. Only g722.c and the vector helpers it calls are compiled: the rest of spandsp
# (fax, modems) needs libtiff and is not used by trayphone. telephony.h is changed not to
# declare the functions dllimport under mingw-w64 (which defines _M_X64): they are linked statically.
set -euo pipefail
src=$1 prefix=$2 host=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat >"$work/config.h" <<'H'
#define HAVE_MATH_H 1
#define HAVE_STDINT_H 1
#define HAVE_INTTYPES_H 1
H
# mingw-w64's libm has the float functions floating_fudge.h would otherwise define itself.
for f in ACOSF ASINF ATAN2F ATANF CEILF COSF EXPF FLOORF LOG10F LOGF POWF SINF TANF; do
  echo "#define HAVE_$f 1" >>"$work/config.h"
done
cp -r "$src/src" "$work/src"
sed -i 's/^#if defined(_M_IX86)  ||  defined(_M_X64)$/#if (defined(_M_IX86)  ||  defined(_M_X64)) \&\& !defined(__MINGW32__)/' "$work/src/spandsp/telephony.h"
src=$work
for f in g722 vector_int; do
  $host-gcc -O2 -std=gnu99 -DHAVE_CONFIG_H -I"$work" -I"$src/src" -c "$src/src/$f.c" -o "$work/$f.o"
done
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
$host-ar rcs "$prefix/lib/libspandsp.a" "$work/g722.o" "$work/vector_int.o"
cp -r "$src/src/spandsp" "$prefix/include/"
cat >"$prefix/lib/pkgconfig/spandsp.pc" <<PC
prefix=$prefix
Name: spandsp
Description: spandsp's G.722 codec only (trayphone's Windows build)
Version: 0.0.6
Libs: -L\${prefix}/lib -lspandsp
Libs.private: -lm
Cflags: -I\${prefix}/include
PC
