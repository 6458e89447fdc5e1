//go:build amd64 && !purego

package tensor

// cpuid executes CPUID with the given leaf and sub-leaf.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// xgetbv reads XCR0.
func xgetbv() (eax, edx uint32)

// detectAVX2 reports whether the CPU and the OS support AVX2, FMA and F16C (the assembly kernels).
func detectAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx, f16c = 1 << 12, 1 << 27, 1 << 28, 1 << 29
	if ecx1&(fma|osxsave|avx|f16c) != fma|osxsave|avx|f16c {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

// detectAVX512 reports whether the CPU and the OS support AVX-512F (ZMM state enabled).
func detectAVX512() bool {
	if !avx512Allowed || !detectAVX2() {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&0xe6 != 0xe6 { // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0
}

// detectAVX512BF16 reports whether the CPU also has AVX512_BF16 (VDPBF16PS; CPUID.(7,1):EAX[5]).
func detectAVX512BF16() bool {
	if !detectAVX512() {
		return false
	}
	if maxSub, _, _, _ := cpuid(7, 0); maxSub < 1 {
		return false
	}
	eax, _, _, _ := cpuid(7, 1)
	return eax&(1<<5) != 0
}

// hasAVX2, hasAVX512 and hasAVX512BF16 are fixed at start-up (read-only afterwards).
var (
	hasAVX2       = detectAVX2()
	hasAVX512     = detectAVX512()
	hasAVX512BF16 = detectAVX512BF16()
)
