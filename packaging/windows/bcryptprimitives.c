/* bcryptprimitives.c: a test-only stand-in for Windows' bcryptprimitives.dll, for Wine 8.0 (Debian
 * 12), which lacks it. Go 1.24 and later call ProcessPrng from it at start for their random
 * numbers and die without it. This one answers ProcessPrng with advapi32's RtlGenRandom
 * (SystemFunction036), which Wine implements over the host's /dev/urandom. It is built and
 * copied into a private Wine prefix by scripts/test_windows.sh; it is never shipped: real
 * Windows (8 and later) has its own. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng fills buffer with length random bytes; it always returns TRUE, as Windows' does. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE buffer, SIZE_T length) {
	/* Ends when the buffer is full: RtlGenRandom takes at most 4 GiB - 1 at a time. */
	while (length > 0) {
		ULONG n = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
		if (!SystemFunction036(buffer, n)) {
			return FALSE;
		}
		buffer += n;
		length -= n;
	}
	return TRUE;
}
