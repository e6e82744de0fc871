package kamailio

import "testing"

func TestPresenceStarts(t *testing.T) {
	k := Start(t, Options{Presence: true})
	t.Log(k.Addr())
	if _, err := k.ctl("core.uptime"); err != nil {
		t.Fatal(err)
	}
}
