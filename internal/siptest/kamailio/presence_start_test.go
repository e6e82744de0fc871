package kamailio

import (
	"strings"
	"testing"
)

// TestPresenceConfigLoads starts Kamailio with Options.Presence: the presence, presence_mwi,
// presence_dialoginfo, pua and pua_dialoginfo modules load with their db_text tables, and the
// instance answers on its ctl socket.
func TestPresenceConfigLoads(t *testing.T) {
	k := Start(t, Options{Presence: true})
	out, err := k.ctl("core.modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range presenceModules {
		if !strings.Contains(out, m) {
			t.Errorf("module %s not loaded; kamcmd core.modules:\n%s", m, out)
		}
	}
}
