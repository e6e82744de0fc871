package presence

import (
	"maps"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"trayphone/account"
	"trayphone/internal/phone"
)

// Plan lists the phone's subscriptions: one message-summary per account, one dialog
// subscription per favorite whose SIP address is in an account's domain (sorted by name), and
// the favorites so watched. accountFor names the account whose domain an address is in ("" if
// none).
func Plan(specs []account.Spec, accountFor func(sip.Uri) string, favorites map[string]string) ([]Spec, []phone.FavoriteState) {
	var out []Spec
	for _, sp := range specs {
		out = append(out, Spec{Kind: KindMWI, Account: sp.ID, Target: sp.AOR})
	}
	var watched []phone.FavoriteState
	for _, name := range slices.Sorted(maps.Keys(favorites)) {
		var u sip.Uri
		if err := sip.ParseUri(strings.TrimSpace(favorites[name]), &u); err != nil || u.User == "" || (u.Scheme != "sip" && u.Scheme != "sips") {
			continue
		}
		acct := accountFor(u)
		if acct == "" {
			continue
		}
		out = append(out, Spec{Kind: KindBLF, Account: acct, Target: u, Name: name})
		watched = append(watched, phone.FavoriteState{Name: name, URI: u.String(), Account: acct, State: "unknown"})
	}
	return out, watched
}
