package rt

import "testing"

// TestVirtualMachineIn reads the hypervisor flag from /proc/cpuinfo texts.
func TestVirtualMachineIn(t *testing.T) {
	kvm := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n" +
		"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm rep_good nopl cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy\n" +
		"bugs\t\t: sysret_ss_attrs\n\nprocessor\t: 1\n"
	metal := "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov rdrand lahf_lm\n" +
		"vmx flags\t: vnmi preemption_timer posted_intr invvpid ept_x_only\n"
	arm := "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
	for _, c := range []struct {
		name, text string
		want       bool
	}{
		{"KVM guest", kvm, true},
		{"bare metal with VT-x (its vmx flags line names no hypervisor)", metal, false},
		{"ARM: no flags line", arm, false},
		{"flag as part of a longer word", "flags\t: fpu hypervisor_x\n", false},
		{"flag last on the line", "flags\t: fpu hypervisor", true},
		{"empty", "", false},
	} {
		if got := virtualMachineIn([]byte(c.text)); got != c.want {
			t.Errorf("%s: virtualMachineIn = %v, want %v", c.name, got, c.want)
		}
	}
}
