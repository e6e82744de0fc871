package callmgr

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/siptest/kamailio"
	"trayphone/internal/testenv"
	"trayphone/presence"
)

// startWatchingCore starts alice's phone registered at k with presence: her voicemail box and,
// when favorite is set, the line of favorite's URI (sip:bob@k). The subscriptions start once the
// account has registered, as in the app.
func startWatchingCore(t *testing.T, k *kamailio.Kamailio, favName, favUser string, opts ...presence.Option) (*accountCore, *presence.Set) {
	t.Helper()
	var pres *presence.Set
	a := startAccountCoreOn(t, k, "udp", "alice", "alicepw", 604, func(cfg *Config) {
		var aor, fav sip.Uri
		if err := sip.ParseUri("sip:alice@"+k.Domain(), &aor); err != nil {
			t.Fatal(err)
		}
		specs := []presence.Spec{{Kind: presence.KindMWI, Account: "test", Target: aor, Expires: 60 * time.Second}}
		if favName != "" {
			if err := sip.ParseUri("sip:"+favUser+"@"+k.Domain(), &fav); err != nil {
				t.Fatal(err)
			}
			specs = append(specs, presence.Spec{Kind: presence.KindBLF, Account: "test", Target: fav, Name: favName, Expires: 60 * time.Second})
			cfg.Watched = []phone.FavoriteState{{Name: favName, URI: fav.String(), Account: "test"}}
		}
		pres = presence.NewSet(cfg.UA, cfg.Accounts.Outbound, cfg.Accounts.Admit, specs, append([]presence.Option{presence.WithLogger(cfg.Log)}, opts...)...)
		cfg.Presence = pres
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = pres.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(presence.UnsubscribeTimeout + time.Second):
			t.Error("subscriptions did not end in time")
		}
	})
	pres.Kick("") // the account is registered (startAccountCoreOn waited)
	return a, pres
}

// publishMWI sends a message-summary PUBLISH for user to Kamailio as a voicemail server would
// (RFC 3903), and checks it is accepted.
func publishMWI(t *testing.T, k *kamailio.Kamailio, user, body string) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-voicemail"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+user+"@"+k.Domain(), &uri); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.PUBLISH, uri)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "voicemail", Host: "vm.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", "vm1")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Expires", "60"))
	req.AppendHeader(sip.NewHeader("Content-Type", presence.SummaryType))
	req.SetBody([]byte(body))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := cl.Do(ctx, req)
	if err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("PUBLISH: got %d %s, want 200", res.StatusCode, res.Reason)
	}
}

// waitVoicemail waits until the account's voicemail count in Status is want.
func waitVoicemail(t *testing.T, a *accountCore, want phone.MessageCount, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := a.mgr.Status()
		if len(st.Accounts) == 1 && st.Accounts[0].Voicemail != nil && *st.Accounts[0].Voicemail == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("voicemail: got %+v, want %+v within %s", st.Accounts, want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMWIThroughKamailio: the phone subscribes to its voicemail box at Kamailio's presence
// server (presence_mwi), a voicemail server PUBLISHes a message summary, and the count shows in
// Status and as an event; a second PUBLISH (messages listened to) updates it.
func TestMWIThroughKamailio(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{Presence: true})
	a, _ := startWatchingCore(t, k, "", "")
	publishMWI(t, k, "alice", "Messages-Waiting: yes\r\nMessage-Account: sip:alice@"+k.Domain()+"\r\nVoice-Message: 2/8 (0/2)\r\n")
	waitVoicemail(t, a, phone.MessageCount{New: 2, Old: 8, Waiting: true}, 10*time.Second)
	var saw bool
	for !saw {
		select {
		case ev := <-a.events:
			saw = ev.Type == phone.EventMWI && ev.Account != nil && ev.Account.Voicemail != nil && ev.Account.Voicemail.New == 2
		case <-time.After(2 * time.Second):
			t.Fatal("no mwi event with 2 new messages")
		}
	}
	publishMWI(t, k, "alice", "Messages-Waiting: no\r\nVoice-Message: 0/10\r\n")
	waitVoicemail(t, a, phone.MessageCount{New: 0, Old: 10}, 10*time.Second)
	if n := k.Requests("SUBSCRIBE"); n < 1 {
		t.Errorf("SUBSCRIBEs at Kamailio: got %d, want at least 1", n)
	}
}

// waitFavorite waits until the favorite's state in Status is want.
func waitFavorite(t *testing.T, a *accountCore, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := a.mgr.Status()
		if len(st.Favorites) == 1 && st.Favorites[0].State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("favorite: got %+v, want state %q within %s", st.Favorites, want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBLFThroughKamailio: the phone watches favorite "Front desk" (bob) through Kamailio's
// presence_dialoginfo; carol (baresip) calls bob (baresip, answering by hand) through Kamailio,
// pua_dialoginfo publishes the dialog, and the favorite goes ringing, busy, idle.
func TestBLFThroughKamailio(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{Presence: true})
	bob := baresip.Start(t, baresip.Options{User: "bob", Password: "bobpw", Registrar: k.Domain(), ToneHz: 1004, AnswerMode: "manual"})
	carol := baresip.Start(t, baresip.Options{User: "carol", Password: "carolpw", Registrar: k.Domain(), ToneHz: 800})
	for _, b := range []*baresip.Baresip{bob, carol} {
		if _, err := b.WaitEvent("REGISTER_OK", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := startWatchingCore(t, k, "Front desk", "bob")
	waitFavorite(t, a, "idle", 10*time.Second)
	if err := carol.Dial("sip:bob@" + k.Domain()); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallIncoming, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFavorite(t, a, "ringing", 5*time.Second)
	if err := bob.Accept(); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFavorite(t, a, "busy", 5*time.Second)
	if err := carol.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitFavorite(t, a, "idle", 5*time.Second)
	seen := map[string]bool{}
	for len(a.events) > 0 {
		if ev := <-a.events; ev.Type == phone.EventFavorite && ev.Favorite != nil {
			seen[ev.Favorite.State] = true
		}
	}
	for _, s := range []string{"ringing", "busy", "idle"} {
		if !seen[s] {
			t.Errorf("no favorite event with state %s (saw %v)", s, seen)
		}
	}
}

// TestMWIRefreshAndResubscribe: the voicemail subscription is refreshed before it expires (the
// phone's clock is advanced past three quarters of the 60 s granted: Kamailio gets an in-dialog
// SUBSCRIBE and answers it) and starts a new dialog when the registration changes (Kick); the
// count still arrives after both.
func TestMWIRefreshAndResubscribe(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{Presence: true})
	fake := clock.NewFake(time.Now())
	logs := &testenv.Buffer{}
	a, pres := startWatchingCore(t, k, "", "", presence.WithClock(fake),
		presence.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	publishMWI(t, k, "alice", "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n")
	waitVoicemail(t, a, phone.MessageCount{New: 1, Waiting: true}, 10*time.Second)
	initial := k.Requests("SUBSCRIBE") // the first, challenged (407), and again with credentials
	if initial != 2 {
		t.Fatalf("SUBSCRIBEs before the refresh: got %d, want 2 (407, then authorized)", initial)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fake.Timers() == 0 { // the refresh timer is armed once the 200 OK is in
		if time.Now().After(deadline) {
			t.Fatal("no refresh timer armed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fake.Advance(46 * time.Second) // once: the refresh must come before 60 s have passed
	for k.Requests("SUBSCRIBE") == initial {
		if time.Now().After(deadline) {
			t.Fatal("no refresh SUBSCRIBE after the clock passed 46 s of the 60 s granted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "subscription failed") {
		t.Fatalf("the refresh failed:\n%s", logs.String())
	}
	if !strings.Contains(k.Log(), "REQ SUBSCRIBE sip:"+k.Domain()) {
		t.Errorf("the refresh did not go to the notifier's Contact inside the dialog:\n%s", k.Log())
	}
	publishMWI(t, k, "alice", "Messages-Waiting: yes\r\nVoice-Message: 3/1\r\n")
	waitVoicemail(t, a, phone.MessageCount{New: 3, Old: 1, Waiting: true}, 10*time.Second)

	before := k.Requests("SUBSCRIBE")
	pres.Kick("test")
	deadline = time.Now().Add(10 * time.Second)
	for k.Requests("SUBSCRIBE") < before+2 { // a new dialog: challenged again
		if time.Now().After(deadline) {
			t.Fatalf("no new SUBSCRIBE dialog after Kick: %d SUBSCRIBEs, want %d", k.Requests("SUBSCRIBE"), before+2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	publishMWI(t, k, "alice", "Messages-Waiting: no\r\nVoice-Message: 0/4\r\n")
	waitVoicemail(t, a, phone.MessageCount{Old: 4}, 10*time.Second)
	if strings.Contains(logs.String(), "subscription failed") {
		t.Errorf("a subscription failed:\n%s", logs.String())
	}
}
