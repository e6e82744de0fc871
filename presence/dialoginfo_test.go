package presence

import (
	"errors"
	"maps"
	"testing"
)

// rfc4235Trying is the first example of RFC 4235 §5 (a dialog being set up, state "trying").
const rfc4235Trying = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="0" state="full"
             entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710"
          local-tag="1928301774" direction="initiator">
    <state>trying</state>
  </dialog>
</dialog-info>`

// rfc4235Confirmed is the second example of RFC 4235 §5 (the dialog confirmed, with identities).
const rfc4235Confirmed = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="1" state="full">
  <dialog id="as7d900as8" call-id="a84b4c76e66710"
          local-tag="1928301774" remote-tag="456887766"
          direction="initiator">
    <state>confirmed</state>
    <duration>274</duration>
    <local>
      <identity display="Alice">sip:alice@example.com</identity>
      <target uri="sip:alice@pc33.example.com"></target>
    </local>
    <remote>
      <identity display="Bob">sip:bob@example.org</identity>
      <target uri="sip:bobster@phone21.example.org"/>
    </remote>
  </dialog>
</dialog-info>`

// rfc4235Terminated is a dialog that ended (RFC 4235 §4.1.2: state with event and code).
const rfc4235Terminated = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="2" state="partial" entity="sip:alice@example.com">
  <dialog id="as7d900as8"><state event="rejected" code="486">terminated</state></dialog>
</dialog-info>`

// emptyFull is what a watched user without calls gets (no dialog elements).
const emptyFull = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:alice@example.com"/>`

func TestParseDialogInfo(t *testing.T) {
	t.Parallel()
	d, err := ParseDialogInfo([]byte(rfc4235Trying))
	if err != nil {
		t.Fatalf("trying: %v", err)
	}
	if d.Entity != "sip:alice@example.com" || d.Version != 0 || !d.Full || len(d.Dialogs) != 1 ||
		d.Dialogs[0] != (Dialog{ID: "as7d900as8", State: "trying", Direction: "initiator"}) {
		t.Fatalf("trying: got %+v", d)
	}
	known := Merge(nil, d)
	if got := StateOf(known); got != LineRinging {
		t.Errorf("trying: got %v, want ringing", got)
	}
	d, err = ParseDialogInfo([]byte(rfc4235Confirmed))
	if err != nil {
		t.Fatalf("confirmed: %v", err)
	}
	known = Merge(known, d)
	if got := StateOf(known); got != LineBusy || d.Version != 1 {
		t.Errorf("confirmed: got %v (version %d), want busy (1)", got, d.Version)
	}
	d, err = ParseDialogInfo([]byte(rfc4235Terminated))
	if err != nil {
		t.Fatalf("terminated: %v", err)
	}
	known = Merge(known, d)
	if got := StateOf(known); got != LineIdle || len(known) != 0 {
		t.Errorf("terminated: got %v with %v, want idle with none", got, known)
	}
	d, err = ParseDialogInfo([]byte(emptyFull))
	if err != nil || StateOf(Merge(map[string]string{"x": "confirmed"}, d)) != LineIdle {
		t.Errorf("empty full document: got %+v, %v, want idle", d, err)
	}
}

func TestMergePartial(t *testing.T) {
	t.Parallel()
	known := map[string]string{"a": "confirmed"}
	got := Merge(known, DialogInfo{Dialogs: []Dialog{{ID: "b", State: "early"}}})
	want := map[string]string{"a": "confirmed", "b": "early"}
	if !maps.Equal(got, want) {
		t.Errorf("partial: got %v, want %v", got, want)
	}
	if StateOf(map[string]string{"b": "early"}) != LineRinging {
		t.Error("early: want ringing")
	}
	if StateOf(nil) != LineIdle {
		t.Error("none: want idle")
	}
}

func TestParseDialogInfoBad(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"",
		"Messages-Waiting: yes\r\n",
		`<dialog-info version="0" state="full"/>`, // no namespace
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="x" state="full"/>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="-1" state="full"/>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="some"/>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"><dialog id="a"><state>dancing</state></dialog></dialog-info>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"><dialog><state>early</state></dialog></dialog-info>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"><dialog id="a">`,
		`<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`,
	} {
		if _, err := ParseDialogInfo([]byte(body)); !errors.Is(err, ErrBadDialogInfo) {
			t.Errorf("ParseDialogInfo(%q): got %v, want ErrBadDialogInfo", body, err)
		}
	}
}

// FuzzParseDialogInfo checks that ParseDialogInfo never panics, that every error wraps
// ErrBadDialogInfo and that what it returns has only known dialog states.
func FuzzParseDialogInfo(f *testing.F) {
	f.Add([]byte(rfc4235Trying))
	f.Add([]byte(rfc4235Confirmed))
	f.Add([]byte(rfc4235Terminated))
	f.Add([]byte(emptyFull))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDialogInfo(b)
		if err != nil {
			if !errors.Is(err, ErrBadDialogInfo) {
				t.Fatalf("got error %v, want one wrapping ErrBadDialogInfo", err)
			}
			return
		}
		for _, dl := range d.Dialogs {
			if dl.ID == "" {
				t.Fatalf("dialog without id: %+v", d)
			}
		}
		if s := StateOf(Merge(nil, d)); s == LineUnknown {
			t.Fatalf("got unknown state for %+v", d)
		}
	})
}
