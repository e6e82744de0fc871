package callmgr

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/testenv"
	"trayphone/media"
	"trayphone/media/sdp"
)

// TestBaresipDTLSSRTP calls a real baresip with its dtls_srtp module (mediaenc=dtls_srtp: it
// offers UDP/TLS/RTP/SAVPF with its fingerprint and takes RTP/SAVP or UDP/TLS/RTP/SAVP(F)
// offers with ours) both ways, under our optional and required modes, with and without SDES
// keys allowed next to the fingerprint. Each call is judged as TestBaresipSRTP judges its own:
// the audio both sides recorded, and tshark's capture of the RTP on lo, whose payloads must be
// ciphertext (the plain control call of TestBaresipSRTP shows the check hears a tone in the
// clear).
func TestBaresipDTLSSRTP(t *testing.T) {
	for _, tc := range []srtpCase{
		// They offer UDP/TLS/RTP/SAVPF with setup:actpass: we answer active (the DTLS client).
		{name: "they-call/optional", ours: EncryptionOptional, bob: "dtls_srtp", weCall: false, wantEnc: encDTLS},
		{name: "they-call/required", ours: EncryptionRequired, bob: "dtls_srtp", weCall: false, wantEnc: encDTLS},
		{name: "they-call/optional/sdes-over-udp", ours: EncryptionOptional, sdesUDP: true, bob: "dtls_srtp", weCall: false, wantEnc: encDTLS},
		// We offer UDP/TLS/RTP/SAVP (no SDES keys over UDP) or RTP/SAVP with keys and the
		// fingerprint: baresip answers active, we are the DTLS server.
		{name: "we-call/required", ours: EncryptionRequired, bob: "dtls_srtp", weCall: true, wantEnc: encDTLS},
		{name: "we-call/required/sdes-over-udp", ours: EncryptionRequired, sdesUDP: true, bob: "dtls_srtp", weCall: true, wantEnc: encDTLS},
		// Off refuses what can only be encrypted.
		{name: "they-call/off", ours: EncryptionOff, bob: "dtls_srtp", weCall: false, wantCode: 488},
		// Optional offers RTP/AVP, which baresip's dtls_srtp refuses (488): we offer again,
		// encrypted only.
		{name: "we-call/optional", ours: EncryptionOptional, bob: "dtls_srtp", weCall: true, wantEnc: encDTLS},
		// baresip's srtp-mand refuses RTP/AVP too: the second offer carries SDES keys.
		{name: "we-call/optional/srtp-mand", ours: EncryptionOptional, sdesUDP: true, bob: "srtp-mand", weCall: true, wantEnc: encSRTP},
	} {
		t.Run(tc.name, func(t *testing.T) { runSRTPCase(t, tc) })
	}
}

// TestDTLSBetweenCores: two trayphones with media_encryption = "optional", signalling over UDP
// without sdes_over_udp, so no SDES keys may be sent: the fingerprint in the RTP/AVP offer makes
// the call DTLS-SRTP; it survives hold and resume from each side (re-offers carry the same
// fingerprint) and carries the tone both ways. Neither the log nor the SIP messages carry a key.
func TestDTLSBetweenCores(t *testing.T) {
	checkGoroutines(t)
	var logs testenv.Buffer
	a := startCore(t, "alice", coreOpts{toneHz: 604, mediaEnc: EncryptionOptional, logTo: &logs, logDebug: true})
	b := startCore(t, "bob", coreOpts{toneHz: 1004, mediaEnc: EncryptionOptional})
	ca, cb := established(t, a, b)
	if ca.Encryption != encDTLS || cb.Encryption != encDTLS {
		t.Fatalf("encryption: alice %q, bob %q; want dtls-srtp", ca.Encryption, cb.Encryption)
	}
	time.Sleep(time.Second)
	holdResumeEachSide(t, a, b, ca.ID, cb.ID)
	time.Sleep(2500 * time.Millisecond)
	var keys [][]byte
	a.mgr.await(func() {
		for _, c := range a.mgr.calls {
			if c.srtp != nil {
				keys = append(keys, c.srtp.LocalKey, c.srtp.RemoteKey)
			}
		}
	})
	for _, c := range []*core{a, b} {
		if st := c.mgr.Status().Calls; len(st) != 1 || st[0].Encryption != encDTLS || st[0].Media.PacketsReceived < 100 {
			t.Errorf("%s: calls %+v, want one DTLS-SRTP call with audio", c.name, st)
		}
	}
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	b.stop()
	checkToneLast(t, a.out, 1004, 30, 2*time.Second)
	checkToneLast(t, b.out, 604, 30, 2*time.Second)
	text := logs.String()
	if len(keys) != 2 || !strings.Contains(text, "keys=dtls-srtp") {
		t.Fatalf("alice has %d keys; the log does not say the call is DTLS-SRTP:\n%s", len(keys), text)
	}
	for _, k := range keys {
		if strings.Contains(text, fmt.Sprintf("%x", k[:8])) || strings.Contains(text, fmt.Sprintf("%X", k[:8])) {
			t.Error("the log contains a key")
		}
	}
}

// TestDTLSFingerprintMismatch: a far end whose DTLS certificate is not the one its SDP names (as
// when someone on the path answers the handshake) makes the call end on our side with a reason
// that says so, and on its side too.
func TestDTLSFingerprintMismatch(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{toneHz: 604, mediaEnc: EncryptionRequired})
	b := startCore(t, "bob", coreOpts{toneHz: 1004, mediaEnc: EncryptionOptional})
	b.mgr.await(func() {
		// Bob's SDP names another certificate than the one his handshake presents.
		b.mgr.dtlsID.fp.Value = append([]byte(nil), b.mgr.dtlsID.fp.Value...)
		b.mgr.dtlsID.fp.Value[0] ^= 0xff
	})
	if _, err := a.mgr.Call(ctx(t), "sip:bob@"+b.ua.SelfAddr().String(), ""); err != nil {
		t.Fatal(err)
	}
	in := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	end := a.waitState(10*time.Second, phone.CallEnded)
	t.Logf("alice: %s", end.EndReason)
	if !strings.Contains(end.EndReason, "does not match the fingerprint") {
		t.Errorf("alice's call ended with %q, want the fingerprint mismatch", end.EndReason)
	}
	if end.Media.PacketsReceived != 0 {
		t.Errorf("alice played %d packets", end.Media.PacketsReceived)
	}
	if end.Result != phone.ResultFailed {
		t.Errorf("alice's call ended as %q, want %q", end.Result, phone.ResultFailed)
	}
	// Bob answered: alice ends the call with a BYE (not a CANCEL, which cannot end an answered
	// call), so bob hears of it at once (or from her DTLS alert, whichever comes first), not
	// after his own handshake gives up (DTLSTimeout, 10 s) when the alert is lost.
	start := time.Now()
	bend := b.waitState(10*time.Second, phone.CallEnded)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("bob's call ended %v after alice's (%q), want at once", took.Round(time.Millisecond), bend.EndReason)
	}
}

// TestDTLSHandshakeTimeout: a far end that offers DTLS-SRTP and then never answers our handshake
// (a scripted SIP peer on raw sockets) has its call ended after [DTLSTimeout] with a BYE and a
// reason that says what happened; the phone goes on.
func TestDTLSHandshakeTimeout(t *testing.T) {
	checkGoroutines(t)
	b := startCore(t, "bob", coreOpts{mediaEnc: EncryptionRequired, dtlsTimeout: 1500 * time.Millisecond})
	sipConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sipConn.Close()
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpConn.Close()
	cert, err := media.NewDTLSCertificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, err := newDTLSIdentity(&cert, b.mgr)
	if err != nil {
		t.Fatal(err)
	}
	offer, err := sdp.Offer(sdp.OfferParams{SessionID: 5, Version: 1, Addr: netip.MustParseAddr("127.0.0.1"),
		Port: rtpConn.LocalAddr().(*net.UDPAddr).Port, Formats: []sdp.Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}},
		Fingerprint: &id.fp, Setup: sdp.SetupPassive, Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	me := sipConn.LocalAddr().(*net.UDPAddr)
	bob := net.UDPAddrFromAddrPort(b.ua.SelfAddr())
	ruri := "sip:bob@" + b.ua.SelfAddr().String()
	invite := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-dtls1;rport\r\n"+
		"From: <sip:mute@%s>;tag=mute\r\nTo: <%s>\r\nCall-ID: dtls-timeout-1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:mute@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		ruri, me, me, ruri, me, len(offer), offer)
	if _, err := sipConn.WriteToUDP([]byte(invite), bob); err != nil {
		t.Fatal(err)
	}
	in := b.waitState(5*time.Second, phone.CallIncoming)
	if in.Encryption != encDTLS {
		t.Errorf("ringing: encryption %q, want dtls-srtp", in.Encryption)
	}
	if err := b.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	ok := readResponse(t, sipConn, 200)
	ans, err := sdp.Parse(ok.Body())
	if err != nil {
		t.Fatal(err)
	}
	if a := ans.Audio; a.Setup != sdp.SetupActive || len(a.Fingerprints) != 1 || a.Proto != "UDP/TLS/RTP/SAVP" || len(a.Crypto) != 0 {
		t.Errorf("answer: %s, setup %v, %d fingerprints, %d keys; want UDP/TLS/RTP/SAVP, active, ours, none", a.Proto, a.Setup, len(a.Fingerprints), len(a.Crypto))
	}
	toTag, _ := ok.To().Params.Get("tag")
	ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-dtls2;rport\r\n"+
		"From: <sip:mute@%s>;tag=mute\r\nTo: <%s>;tag=%s\r\nCall-ID: dtls-timeout-1\r\nCSeq: 1 ACK\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", ok.Contact().Address.String(), me, me, ruri, toTag)
	if _, err := sipConn.WriteToUDP([]byte(ack), bob); err != nil {
		t.Fatal(err)
	}
	// Bob, the DTLS client, sends ClientHellos (first byte 22, a handshake record) to our RTP
	// port, which never answers.
	buf := make([]byte, 2048)
	rtpConn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := rtpConn.Read(buf); err != nil || n < 13 || buf[0] != 22 {
		t.Errorf("no DTLS handshake record from bob: %d bytes, %v", n, err)
	}
	start := time.Now()
	bye := readRequest(t, sipConn, sip.BYE)
	res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
	if _, err := sipConn.WriteToUDP([]byte(res.String()), bob); err != nil {
		t.Fatal(err)
	}
	end := b.waitState(5*time.Second, phone.CallEnded)
	t.Logf("bob: %s (BYE %s after the first ClientHello)", end.EndReason, time.Since(start).Round(10*time.Millisecond))
	if !strings.Contains(end.EndReason, "no DTLS handshake") || !strings.Contains(end.EndReason, "1.5s") {
		t.Errorf("end reason %q, want the handshake timeout", end.EndReason)
	}
	// The phone goes on: a call to the echo test works.
	if _, err := b.mgr.Call(ctx(t), "echo", ""); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallActive)
}

// TestDTLSReinviteDuringDeviceOpen: the callee's DTLS-SRTP handshake is done and its sound card
// takes long to open (off the manager's loop); a hold and a resume from the caller meanwhile
// keep the keys the handshake made: the audio starts encrypted when the card is open.
func TestDTLSReinviteDuringDeviceOpen(t *testing.T) {
	checkGoroutines(t)
	dev := newStuckDevice(t)
	a := startCore(t, "alice", coreOpts{toneHz: 604, mediaEnc: EncryptionOptional})
	b := startCore(t, "bob", coreOpts{mediaEnc: EncryptionOptional, device: dev})
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Answer(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	ca := a.waitState(10*time.Second, phone.CallActive)
	<-dev.opened // bob's handshake is done: his device opens now
	if err := a.mgr.Hold(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallHeld)
	if err := a.mgr.Resume(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallActive)
	dev.once.Do(func() { close(dev.release) })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var started, keyed bool
		b.mgr.await(func() {
			if c := b.mgr.calls[cb.ID]; c != nil && c.sess != nil {
				started, keyed = true, c.srtp != nil
			}
		})
		if started {
			if !keyed {
				t.Fatal("bob's audio started without the DTLS-SRTP keys (plain RTP)")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's audio did not start 5 s after his device opened")
		}
	}
	recv := b.mgr.Status().Calls[0].Media.PacketsReceived
	time.Sleep(time.Second)
	if st := b.mgr.Status().Calls; len(st) != 1 || st[0].Encryption != encDTLS || st[0].Media.PacketsReceived < recv+20 {
		t.Errorf("bob: calls %+v, want one DTLS-SRTP call with alice's audio arriving", st)
	}
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
}

// TestDTLSRetrySecureKeepsExtraHeaders: an outgoing call with extra headers (a transfer's
// Referred-By) to a far end (a scripted SIP peer on raw sockets) that refuses the best-effort
// offer of media_encryption = "optional" (488) goes again encrypted only (retrySecure), and the
// second INVITE carries the headers too.
func TestDTLSRetrySecureKeepsExtraHeaders(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{mediaEnc: EncryptionOptional})
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	alice := net.UDPAddrFromAddrPort(a.ua.SelfAddr())
	const referredBy = "<sip:carol@example.com>"
	var callErr error
	a.mgr.await(func() {
		_, callErr = a.mgr.startOutgoing("sip:bob@"+peer.LocalAddr().String(), "", sip.NewHeader("Referred-By", referredBy))
	})
	if callErr != nil {
		t.Fatal(callErr)
	}
	check := func(n int, wantSecure bool) *sip.Request {
		inv := readRequest(t, peer, sip.INVITE)
		if h := inv.GetHeader("Referred-By"); h == nil || h.Value() != referredBy {
			t.Errorf("INVITE %d: Referred-By %v, want %s", n, h, referredBy)
		}
		offer, err := sdp.Parse(inv.Body())
		if err != nil {
			t.Fatalf("INVITE %d: %v", n, err)
		}
		if got := sdp.SecureRTP(offer.Audio.Proto); got != wantSecure {
			t.Errorf("INVITE %d offers %s, want secure %v", n, offer.Audio.Proto, wantSecure)
		}
		return inv
	}
	respond := func(inv *sip.Request, code int, reason string) {
		res := sip.NewResponseFromRequest(inv, code, reason, nil)
		res.To().Params.Add("tag", fmt.Sprintf("peer%d", code))
		if _, err := peer.WriteToUDP([]byte(res.String()), alice); err != nil {
			t.Fatal(err)
		}
	}
	respond(check(1, false), 488, "Not Acceptable Here")
	respond(check(2, true), 603, "Decline")
	end := a.waitState(5*time.Second, phone.CallEnded)
	if end.Result != phone.ResultDeclined {
		t.Errorf("alice's call ended as %q (%s), want declined", end.Result, end.EndReason)
	}
}

// TestDTLSRetryWithoutFingerprintKeepsExtraHeaders: an outgoing call whose extra headers (a
// transfer's Referred-By) make the INVITE with our fingerprint too large for UDP goes again
// without the fingerprint (retryWithoutFingerprint, "optional"), and that INVITE carries the
// headers too.
func TestDTLSRetryWithoutFingerprintKeepsExtraHeaders(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{mediaEnc: EncryptionOptional})
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	alice := net.UDPAddrFromAddrPort(a.ua.SelfAddr())
	target := "sip:bob@" + peer.LocalAddr().String()
	call := func(referredBy string) *sip.Request {
		var callErr error
		a.mgr.await(func() {
			_, callErr = a.mgr.startOutgoing(target, "", sip.NewHeader("Referred-By", referredBy))
		})
		if callErr != nil {
			t.Fatal(callErr)
		}
		inv := readRequest(t, peer, sip.INVITE)
		if h := inv.GetHeader("Referred-By"); h == nil || h.Value() != referredBy {
			t.Errorf("INVITE: Referred-By %v, want %s", h, referredBy)
		}
		res := sip.NewResponseFromRequest(inv, 603, "Decline", nil)
		res.To().Params.Add("tag", "peer")
		if _, err := peer.WriteToUDP([]byte(res.String()), alice); err != nil {
			t.Fatal(err)
		}
		a.waitState(5*time.Second, phone.CallEnded)
		return inv
	}
	// A first call measures the INVITE with the fingerprint; the second one's Referred-By makes
	// it 30 bytes too large for UDP (1300), and the fingerprint and a=setup lines (over 130
	// bytes) are more than that.
	small := "<sip:carol@example.com>"
	first := call(small)
	if fp, _ := sdp.Parse(first.Body()); fp == nil || len(fp.Audio.Fingerprints) == 0 {
		t.Fatal("the first INVITE has no fingerprint")
	}
	pad := 1300 + 30 - len(first.String())
	if pad < 0 {
		t.Fatalf("the INVITE is %d bytes already", len(first.String()))
	}
	big := "<sip:carol@example.com;x=" + strings.Repeat("a", pad) + ">"
	second := call(big)
	offer, err := sdp.Parse(second.Body())
	if err != nil {
		t.Fatal(err)
	}
	if len(offer.Audio.Fingerprints) != 0 || len(second.String()) > 1300 {
		t.Errorf("the INVITE that went has %d fingerprints and %d bytes, want none and at most 1300", len(offer.Audio.Fingerprints), len(second.String()))
	}
}
