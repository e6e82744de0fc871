package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// crlf turns a readable literal into a description with CRLF line ends.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n"))
}

var (
	pcmu = Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	pcma = Format{PayloadType: 8, Name: "PCMA", ClockRate: 8000, Channels: 1}
	g722 = Format{PayloadType: 9, Name: "G722", ClockRate: 8000, Channels: 1}
	te   = Format{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-16"}
	ours = []Format{pcmu, pcma}
)

// baresip 3.x offering opus, G.722, PCMU, PCMA and telephone-event, with its usual extras.
const baresipOffer = `
v=0
o=- 1234987651 1234987652 IN IP4 192.168.1.20
s=-
c=IN IP4 192.168.1.20
t=0 0
a=tool:baresip 3.10.0
m=audio 10206 RTP/AVP 96 9 0 8 101
b=AS:104
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp:10207
a=sendrecv
a=label:1
a=ssrc:1958612452 cname:2b4b3f0e-8a1e-4d1f
a=rtcp-mux
a=ptime:20
`

// A Linphone-like offer: LF line ends, media-level c=, session-level direction, an RTCP
// attribute, static types listed without rtpmap and a video stream that we must reject.
const linphoneOffer = "v=0\n" +
	"o=bob 3540 2184 IN IP4 10.0.0.7\n" +
	"s=Talk\n" +
	"t=0 0\n" +
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n" +
	"a=sendrecv\n" +
	"m=audio 7078 RTP/AVP 97 0 8 18 101 99\n" +
	"c=IN IP4 10.0.0.7\n" +
	"a=rtpmap:97 speex/16000\n" +
	"a=fmtp:18 annexb=no\n" +
	"a=rtpmap:101 telephone-event/48000\n" +
	"a=rtpmap:99 telephone-event/8000\n" +
	"a=rtcp:7079\n" +
	"m=video 9078 RTP/AVP 96\n" +
	"c=IN IP4 10.0.0.7\n" +
	"a=rtpmap:96 VP8/90000\n"

// RFC 4317 §2.1 (https://www.rfc-editor.org/rfc/rfc4317#section-2.1): audio and video, with the
// audio offering PCMU, dynamic iLBC at 97 and telephone-event at 98.
const rfc4317Offer = `
v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 192.0.2.101
t=0 0
m=audio 49170 RTP/AVP 0 8 97
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:97 iLBC/8000
m=video 51372 RTP/AVP 31 32
a=rtpmap:31 H261/90000
a=rtpmap:32 MPV/90000
`

// An RFC 2543-style hold from an old Asterisk: c=0.0.0.0, no direction attribute.
const oldHold = `
v=0
o=root 1821 1822 IN IP4 203.0.113.5
s=Asterisk PBX
c=IN IP4 0.0.0.0
t=0 0
m=audio 18020 RTP/AVP 8 0 101
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
`

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sdp  []byte
		want Session
	}{
		{
			name: "baresip",
			sdp:  crlf(baresipOffer),
			want: Session{Username: "-", SessionID: 1234987651, Version: 1234987652, Audio: Media{
				Addr: netip.MustParseAddr("192.168.1.20"), Port: 10206, Proto: "RTP/AVP",
				Formats: []Format{
					{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "stereo=1;sprop-stereo=1"},
					g722, pcmu, pcma,
					{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"},
				},
				Direction: SendRecv, PTime: 20,
				TelephoneEvent: &Format{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"},
			}},
		},
		{
			name: "linphone LF, media-level c=, static types without rtpmap",
			sdp:  []byte(linphoneOffer),
			want: Session{Username: "bob", SessionID: 3540, Version: 2184, Audio: Media{
				Addr: netip.MustParseAddr("10.0.0.7"), Port: 7078, Proto: "RTP/AVP",
				Formats: []Format{
					{PayloadType: 97, Name: "speex", ClockRate: 16000, Channels: 1},
					pcmu, pcma,
					{PayloadType: 18, Name: "G729", ClockRate: 8000, Channels: 1, Fmtp: "annexb=no"},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 48000, Channels: 1},
					{PayloadType: 99, Name: "telephone-event", ClockRate: 8000, Channels: 1},
				},
				Direction:      SendRecv,
				TelephoneEvent: &Format{PayloadType: 101, Name: "telephone-event", ClockRate: 48000, Channels: 1},
			}},
		},
		{
			name: "RFC 4317 2.1",
			sdp:  crlf(rfc4317Offer),
			want: Session{Username: "alice", SessionID: 2890844526, Version: 2890844526, Audio: Media{
				Addr: netip.MustParseAddr("192.0.2.101"), Port: 49170, Proto: "RTP/AVP",
				Formats:   []Format{pcmu, pcma, {PayloadType: 97, Name: "iLBC", ClockRate: 8000, Channels: 1}},
				Direction: SendRecv,
			}},
		},
		{
			name: "old-style hold",
			sdp:  crlf(oldHold),
			want: Session{Username: "root", SessionID: 1821, Version: 1822, Audio: Media{
				Addr: netip.IPv4Unspecified(), Port: 18020, Proto: "RTP/AVP",
				Formats: []Format{pcma, pcmu, te}, Direction: SendOnly, PTime: 20,
				TelephoneEvent: &te,
			}},
		},
		{
			name: "old-style hold with recvonly is inactive, IPv6",
			sdp: crlf(`
v=0
o=x 1 2 IN IP6 ::1
s=-
c=IN IP6 ::
t=0 0
m=audio 4000 RTP/AVP 0
a=recvonly
`),
			want: Session{Username: "x", SessionID: 1, Version: 2, Audio: Media{
				Addr: netip.IPv6Unspecified(), Port: 4000, Proto: "RTP/AVP",
				Formats: []Format{pcmu}, Direction: Inactive,
			}},
		},
		{
			name: "first audio with a port, secure copy skipped, media direction beats session",
			sdp: crlf(`
v=0
o=- 5 6 IN IP4 198.51.100.1
s=-
c=IN IP4 198.51.100.1
t=0 0
a=sendrecv
m=audio 0 RTP/AVP 0
m=audio 5000 RTP/SAVP 0 8
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
m=audio 6000 RTP/AVP 8 3
c=IN IP4 198.51.100.2
a=sendonly
a=ptime:30
`),
			want: Session{Username: "-", SessionID: 5, Version: 6, Audio: Media{
				Addr: netip.MustParseAddr("198.51.100.2"), Port: 6000, Proto: "RTP/AVP",
				Formats:   []Format{pcma, {PayloadType: 3, Name: "GSM", ClockRate: 8000, Channels: 1}},
				Direction: SendOnly, PTime: 30,
			}},
		},
		{
			name: "out of order lines, b= and unknown lines, dynamic type without rtpmap dropped",
			sdp: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nc=IN IP4 192.0.2.9\r\n" +
				"b=CT:128\r\nx=whatever\r\nm=audio 3456 RTP/AVP 100 0\r\nb=FOO:1\r\na=inactive\r\n\r\n"),
			want: Session{Username: "-", SessionID: 1, Version: 1, Audio: Media{
				Addr: netip.MustParseAddr("192.0.2.9"), Port: 3456, Proto: "RTP/AVP",
				Formats: []Format{pcmu}, Direction: Inactive,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.sdp)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got.streams, got.audio = nil, 0
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Parse:\ngot  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sdp  string
		want string
	}{
		{"empty", "", "sdp: empty description"},
		{"no version", "o=- 1 1 IN IP4 1.2.3.4\r\n", `sdp: line 1: want "v=0" first`},
		{"not type=value", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nhello\r\n", "sdp: line 5: want \"<type>=<value>\""},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 31\r\n", "sdp: no audio stream"},
		{"audio rejected", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", "sdp: no audio stream"},
		{"bad port", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n", "sdp: line 6: m= port"},
		{"bad connection", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 pbx.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", "sdp: line 4: connection address"},
		{"no connection", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", "sdp: line 5: audio stream has no connection address"},
		{"bad version", "v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n", "sdp: line 2: o= session version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.sdp))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	opus := Format{PayloadType: 111, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}
	tests := []struct {
		name      string
		offer     string
		supported []Format
		want      Format
		wantTE    *Format
		wantErr   error
	}{
		{"baresip: first offered we support", baresipOffer, ours, pcmu, &Format{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-16"}, nil},
		{"offer order wins over ours", baresipOffer, []Format{pcma, pcmu}, pcmu, &te, nil},
		{"dynamic payload type renumbered to the offer's", baresipOffer, []Format{opus, pcmu},
			Format{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}, nil, nil},
		{"linphone: telephone-event at the codec's rate", linphoneOffer, ours, pcmu,
			&Format{PayloadType: 99, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-16"}, nil},
		{"case-insensitive name", linphoneOffer, []Format{{PayloadType: 120, Name: "SPEEX", ClockRate: 16000, Channels: 1}},
			Format{PayloadType: 97, Name: "SPEEX", ClockRate: 16000, Channels: 1}, nil, nil},
		{"clock rate must match", linphoneOffer, []Format{{PayloadType: 120, Name: "speex", ClockRate: 8000}}, Format{}, nil, ErrNoCommonCodec},
		{"RFC 4317 without telephone-event", rfc4317Offer, []Format{pcma}, pcma, nil, nil},
		{"no common codec", rfc4317Offer, []Format{g722}, Format{}, nil, ErrNoCommonCodec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			offer, err := Parse([]byte(tc.offer))
			if err != nil {
				t.Fatal(err)
			}
			got, gotTE, err := Negotiate(offer, tc.supported)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Negotiate error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				var ne *NegotiationError
				if !errors.As(err, &ne) || ne.StatusCode() != 488 {
					t.Errorf("error %v is not a *NegotiationError with status 488", err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("Negotiate = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(gotTE, tc.wantTE) {
				t.Errorf("telephone-event = %+v, want %+v", gotTE, tc.wantTE)
			}
		})
	}
}

// TestAnswerSecureRTPNeedsKeys: an RTP/SAVP offer is answered only with keys (else 488, as
// before SRTP), and then over RTP/SAVP with the accepted line's tag.
func TestAnswerSecureRTPNeedsKeys(t *testing.T) {
	t.Parallel()
	offer, err := Parse(crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/SAVP 0
a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32
a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(offer.Audio.Crypto); got != 1 {
		t.Fatalf("offer has %d usable crypto lines, want 1 (the MKI one is not): %v", got, offer.Audio.Crypto)
	}
	local := AnswerParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.50"), Port: 30000, Formats: ours}
	if _, _, err := Answer(offer, local); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("Answer(RTP/SAVP) without keys: error = %v, want ErrNoCommonCodec", err)
	}
	c, ok := PickCrypto(offer.Audio.Crypto, []string{"AES_CM_128_HMAC_SHA1_80"}, func(string) (int, bool) { return 30, true })
	if !ok || c.Tag != 9 {
		t.Fatalf("PickCrypto = %v, %v; want tag 9", c, ok)
	}
	key := bytes.Repeat([]byte{0xab}, 30)
	local.Crypto = &Crypto{Tag: c.Tag, Suite: c.Suite, Key: key}
	b, _, err := Answer(offer, local)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Audio.Proto != "RTP/SAVP" || len(back.Audio.Crypto) != 1 || back.Audio.Crypto[0].Tag != 9 ||
		!bytes.Equal(back.Audio.Crypto[0].Key, key) {
		t.Errorf("answer: proto %s, crypto %v; want RTP/SAVP with tag 9 and our key\n%s", back.Audio.Proto, back.Audio.Crypto, b)
	}
}

func TestOffer(t *testing.T) {
	t.Parallel()
	b, err := Offer(OfferParams{
		SessionID: 3913, Version: 1,
		Addr: netip.MustParseAddr("192.0.2.10"), Port: 40000,
		Formats: ours,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\n" +
		"o=trayphone 3913 1 IN IP4 192.0.2.10\r\n" +
		"s=-\r\n" +
		"c=IN IP4 192.0.2.10\r\n" +
		"t=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-16\r\n" +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n"
	if string(b) != want {
		t.Errorf("Offer:\ngot\n%s\nwant\n%s", b, want)
	}

	// Hold: a re-offer with a higher version, sendonly, IPv6.
	b, err = Offer(OfferParams{
		SessionID: 3913, Version: 2,
		Addr: netip.MustParseAddr("2001:db8::10"), Port: 40000,
		Formats: []Format{pcma}, TelephoneEventPT: 96, PTime: 30, Direction: SendOnly,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(our offer): %v\n%s", err, b)
	}
	if s.Version != 2 || s.Username != Username || s.Audio.Direction != SendOnly || s.Audio.PTime != 30 ||
		s.Audio.Addr != netip.MustParseAddr("2001:db8::10") || s.Audio.TelephoneEvent == nil || s.Audio.TelephoneEvent.PayloadType != 96 {
		t.Errorf("hold offer parsed as %+v\n%s", s, b)
	}

	for _, bad := range []OfferParams{
		{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000},
		{Addr: netip.MustParseAddr("192.0.2.1"), Port: 0, Formats: ours},
		{Port: 4000, Formats: ours},
		{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000, Formats: []Format{pcmu, {PayloadType: 101, Name: "X", ClockRate: 8000}}},
		{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000, Formats: []Format{{PayloadType: 0, Name: "PC MU", ClockRate: 8000}}},
	} {
		if _, err := Offer(bad); err == nil {
			t.Errorf("Offer(%+v) succeeded, want an error", bad)
		}
	}
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	local := AnswerParams{SessionID: 77, Version: 1, Addr: netip.MustParseAddr("192.0.2.50"), Port: 30000, Formats: ours}

	offer, err := Parse([]byte(linphoneOffer))
	if err != nil {
		t.Fatal(err)
	}
	b, chosen, err := Answer(offer, local)
	if err != nil {
		t.Fatal(err)
	}
	if chosen != pcmu {
		t.Errorf("chosen = %+v, want %+v", chosen, pcmu)
	}
	want := "v=0\r\n" +
		"o=trayphone 77 1 IN IP4 192.0.2.50\r\n" +
		"s=-\r\n" +
		"c=IN IP4 192.0.2.50\r\n" +
		"t=0 0\r\n" +
		"m=audio 30000 RTP/AVP 0 99\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:99 telephone-event/8000\r\n" +
		"a=fmtp:99 0-16\r\n" +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n" +
		"m=video 0 RTP/AVP 96\r\n"
	if string(b) != want {
		t.Errorf("Answer:\ngot\n%s\nwant\n%s", b, want)
	}

	// RFC 3264 §6.1 directions: offer × our wish.
	dirs := []struct {
		offer, local, want Direction
	}{
		{SendRecv, SendRecv, SendRecv},
		{SendRecv, Unknown, SendRecv},
		{SendOnly, SendRecv, RecvOnly},
		{RecvOnly, SendRecv, SendOnly},
		{Inactive, SendRecv, Inactive},
		{SendRecv, SendOnly, SendOnly},
		{SendOnly, SendOnly, Inactive},
		{RecvOnly, SendOnly, SendOnly},
		{SendRecv, Inactive, Inactive},
		{SendRecv, RecvOnly, RecvOnly},
	}
	for _, d := range dirs {
		o := *offer
		o.Audio.Direction = d.offer
		l := local
		l.Direction = d.local
		b, _, err := Answer(&o, l)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if s.Audio.Direction != d.want {
			t.Errorf("offer %v, local %v: answer %v, want %v", d.offer, d.local, s.Audio.Direction, d.want)
		}
	}

	// Old-style hold (c=0.0.0.0) is answered recvonly.
	held, err := Parse(crlf(oldHold))
	if err != nil {
		t.Fatal(err)
	}
	b, chosen, err = Answer(held, local)
	if err != nil {
		t.Fatal(err)
	}
	if chosen != pcma || !strings.Contains(string(b), "a=recvonly\r\n") || !strings.Contains(string(b), "m=audio 30000 RTP/AVP 8 101\r\n") {
		t.Errorf("answer to old-style hold (chosen %v):\n%s", chosen, b)
	}

	// No common codec.
	if _, _, err := Answer(offer, AnswerParams{Addr: local.Addr, Port: 1, Formats: []Format{g722}}); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("Answer with no common codec: error %v, want ErrNoCommonCodec", err)
	}
}

func TestAnswerKeepsRejectedStreams(t *testing.T) {
	t.Parallel()
	offer, err := Parse(crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=image 4002 udptl t38
m=audio 0 RTP/AVP 0
m=audio 4000 RTP/AVP 0
`))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Answer(offer, AnswerParams{Addr: netip.MustParseAddr("192.0.2.2"), Port: 5000, Formats: ours})
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	i, j, k := strings.Index(got, "m=image 0 udptl t38\r\n"), strings.Index(got, "m=audio 0 RTP/AVP 0\r\n"), strings.Index(got, "m=audio 5000 RTP/AVP 0\r\n")
	if i < 0 || j < i || k < j {
		t.Errorf("answer does not mirror the offer's m= lines in order:\n%s", got)
	}
}

func TestDirection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d       Direction
		s       string
		reverse Direction
	}{
		{Unknown, "unknown", Unknown},
		{SendRecv, "sendrecv", SendRecv},
		{SendOnly, "sendonly", RecvOnly},
		{RecvOnly, "recvonly", SendOnly},
		{Inactive, "inactive", Inactive},
	} {
		if got := tc.d.String(); got != tc.s {
			t.Errorf("Direction(%d).String() = %q, want %q", int(tc.d), got, tc.s)
		}
		if got := tc.d.Reverse(); got != tc.reverse {
			t.Errorf("%v.Reverse() = %v, want %v", tc.d, got, tc.reverse)
		}
	}
}

// TestOfferWideEventsAndComfortNoise checks that an Opus offer carries telephone-event at 48 kHz
// next to 8 kHz (RFC 4733 §2.1), and that CN/8000 (RFC 3389) is offered with 8 kHz codecs only.
func TestOfferWideEventsAndComfortNoise(t *testing.T) {
	t.Parallel()
	opus := Format{PayloadType: 111, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}
	b, err := Offer(OfferParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.10"), Port: 40000,
		Formats: []Format{opus, pcmu}, ComfortNoise: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"m=audio 40000 RTP/AVP 111 0 101 100 13\r\n", "a=rtpmap:100 telephone-event/48000\r\n",
		"a=fmtp:100 0-16\r\n", "a=rtpmap:101 telephone-event/8000\r\n", "a=rtpmap:13 CN/8000\r\n"} {
		if !strings.Contains(string(b), line) {
			t.Errorf("offer lacks %q:\n%s", line, b)
		}
	}
	s, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// Answering our own offer: Opus comes with the 48 kHz events, PCMU with the 8 kHz ones.
	f, te, err := Negotiate(s, []Format{opus, pcmu})
	if err != nil || f.Name != "opus" || te == nil || te.PayloadType != 100 || te.ClockRate != 48000 {
		t.Errorf("Negotiate(opus): %+v %+v %v", f, te, err)
	}
	if cn := ComfortNoise(s, 48000); cn != nil {
		t.Errorf("ComfortNoise(48000) = %+v, want nil", cn)
	}
	if cn := ComfortNoise(s, 8000); cn == nil || cn.PayloadType != 13 {
		t.Errorf("ComfortNoise(8000) = %+v, want PT 13", cn)
	}
	// Opus only: no CN; without ComfortNoise: no CN either.
	for _, p := range []OfferParams{{Formats: []Format{opus}, ComfortNoise: true}, {Formats: []Format{pcmu}}} {
		p.Addr, p.Port = netip.MustParseAddr("192.0.2.10"), 40000
		b, err := Offer(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "CN/8000") {
			t.Errorf("offer %+v has CN:\n%s", p.Formats, b)
		}
	}

	// Answers: CN when offered at the chosen codec's rate and asked for, never chosen as the codec.
	offer, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 13 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	local := AnswerParams{Addr: netip.MustParseAddr("192.0.2.50"), Port: 30000, Formats: []Format{pcmu}, ComfortNoise: true}
	b, chosen, err := Answer(offer, local)
	if err != nil || chosen.Name != "PCMU" || !strings.Contains(string(b), "m=audio 30000 RTP/AVP 0 101 13\r\n") {
		t.Errorf("Answer with CN: chosen %+v err %v\n%s", chosen, err, b)
	}
	local.ComfortNoise = false
	if b, _, _ := Answer(offer, local); strings.Contains(string(b), "CN") {
		t.Errorf("Answer without ComfortNoise has CN:\n%s", b)
	}
}
