package kamailio

import "testing"

// ulDump is "kamcmd ul.dump" output from kamailio 5.6.3 with one binding (trimmed).
const ulDump = `{
	Domains: {
		Domain: {
			Domain: location
			Size: 1024
			AoRs: {
				Info: {
					AoR: alice
					HashID: 2106427392
					Contacts: {
						Contact: {
							Address: sip:alice@127.0.0.1:56246;transport=tls;tpreg=b7c296c9bb9820e7
							Expires: 116
							Q: -1
							Call-ID: 31f8a02d0e0b
							CSeq: 3
							User-Agent: trayphone/0.1
							Received: sip:127.0.0.1:41022;transport=tls
							Path: [not set]
							State: CS_NEW
							Flags: 0
							CFlags: 0
							Socket: tls:127.0.0.1:25061
							Methods: 4294967295
							Ruid: uloc-6740a0-2c3e-1
							Instance: [not set]
							Reg-Id: 0
						}
					}
				}
			}
			Stats: {
				Records: 1
				Max-Slots: 1
			}
		}
	}
}`

func TestParseULDump(t *testing.T) {
	got := parseULDump(ulDump, "alice")
	want := Contact{AOR: "alice", Address: "sip:alice@127.0.0.1:56246;transport=tls;tpreg=b7c296c9bb9820e7",
		Expires: 116, Received: "sip:127.0.0.1:41022;transport=tls", Socket: "tls:127.0.0.1:25061"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v, want [%+v]", got, want)
	}
	if got := parseULDump(ulDump, "bob"); len(got) != 0 {
		t.Errorf("bob: got %+v, want none", got)
	}
}

func FuzzParseULDump(f *testing.F) {
	f.Add(ulDump)
	f.Add("AoR: x\nAddress: sip:x@y\nExpires: nope\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range parseULDump(s, "") {
			if c.Address == "" && c.AOR == "" && c.Expires == 0 {
				continue
			}
		}
	})
}
