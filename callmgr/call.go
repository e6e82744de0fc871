package callmgr

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/media"
	"trayphone/media/sdp"
)

// call is one call. Only the manager goroutine reads or writes it; goroutines doing blocking SIP
// work hold the dialog pointer they were given and post their results back.
type call struct {
	id        string
	seq       int
	sipCallID string
	localTag  string // our tag: From of our INVITE, or To of our answer
	dir       phone.Direction
	remote    string
	remoteNm  string
	account   string // the account the call went through; "" for a direct call
	state     phone.CallState
	started   time.Time
	answerAt  time.Time
	ended     time.Time
	endReason string
	muted     bool
	localHold bool
	remHold   bool
	// keepHeld keeps a local hold that the far end refused: the user turned to another call
	// (hold.go holdOthers), so the far end must go on hearing nothing.
	keepHeld bool
	// reoffer: the hold state changed while a re-INVITE was out; offer again when it ends.
	reoffer bool
	// resuming: the user resumed the call (localHold is off) and the far end has not accepted
	// yet; until it does the call stays held here (heldHere).
	resuming bool
	hidden   bool // the far end of the echo test: not shown to the user
	echoLeg  bool // this incoming call is answered by the echo device
	refused  bool // an INVITE refused at once, kept only for the history (incoming.go missed)
	// silent: a screening rule lets this call ring without sound (screen.go).
	silent bool
	// voicemail: the answering machine answers (answered) this call with machine (screen.go).
	voicemail bool
	machine   media.Device
	// result is how the call went, for the history (phone.Result*); endCall fills it in when
	// nothing more specific was said.
	result string
	// favorite is the favorite's name the user dialled, for the history ("" if none).
	favorite string
	// xfer is the latest transfer of this call, ours or the far end's (transfer.go); referOf,
	// on a call placed for a REFER, is the call that was transferred.
	xfer    *transfer
	referOf *call
	// failCode and failReason are the final response that ended an outgoing call unanswered.
	failCode   int
	failReason string

	// Outgoing calls.
	inviteURI   sip.Uri         // where the INVITE goes
	ob          *sipua.Outbound // the account it goes through, nil for a direct call
	inviteExtra []sip.Header    // headers every INVITE of the call carries (a transfer's Referred-By, Replaces)
	cdlg        *sipgo.DialogClientSession
	cancelRing  context.CancelFunc // cancels the pending INVITE (sends CANCEL)
	// Incoming calls.
	sdlg       *sipgo.DialogServerSession
	offer      *sdp.Session
	inviteDone chan struct{} // closed once the final response to the INVITE is out
	acked      chan struct{} // closed when the ACK for our latest 2xx arrives
	source     netip.Addr    // the IP address the INVITE (or the answer to ours) came from
	farTag     string        // the far end's dialog tag

	// Media.
	localIP    netip.Addr
	rtp, rtcp  *net.UDPConn
	codec      media.Codec
	tePT       uint8
	teRecvPT   uint8 // the far end's telephone-event at another clock rate: received only
	cnPT       uint8 // RFC 3389 comfort noise, 0 if the far end has none
	remoteRTP  netip.AddrPort
	sess       *media.Session
	opening    bool                // the device is being opened for sess off the manager goroutine (startMediaWith)
	answering  bool                // answer is under way (NAT discovery, the device opening) for this incoming call
	sw         *media.SwitchStream // the session's stream: the user's device or a conference port
	tone       *media.Overlay      // laid over the user's device when the call plays there
	tap        *voiceTap           // between sess and sw: what voice apps play and record (voice.go)
	conf       *conference         // the local conference the call is in, nil if none
	mediaAt    time.Time           // when sess started
	sdpSession uint64
	sdpVersion uint64
	reinviting bool

	// Encryption (srtp.go).
	sigTLS      bool              // the call's signalling is TLS
	offeredKeys []sdp.Crypto      // our SDES keys offered, one per suite, made once per call
	srtp        *media.SRTPConfig // the negotiated SRTP keys, nil for plain RTP
	srtpTag     int               // the a=crypto tag of the keys in use
	encPlanned  string            // an incoming call's offer has keys we will answer: encSRTP or encDTLS
	sdesWarned  bool              // the keys-over-plain-signalling warning was logged
	secureOffer bool              // our best-effort offer got 488: we offer encrypted audio only
	// noFingerprint: the INVITE with our fingerprint was too large for UDP; offers leave it out.
	noFingerprint bool
	// DTLS-SRTP (dtls.go).
	dtls     *dtlsPlan          // negotiated DTLS-SRTP, nil if none
	dtlsRun  context.CancelFunc // cancels the handshake in progress; nil when none runs
	dtlsGen  int                // counts handshakes started, to tell their results apart
	dtlsConn *media.DTLS        // the finished handshake until the media session owns it

	// recording is the call's recording (record.go).
	recording recordingOf
	// autoAnswered: the call was answered without the user (autoanswer.go).
	autoAnswered bool
}

// heldHere reports whether the call is on hold at our end now: held, or resumed and not yet
// accepted by the far end. localHold is what we offer; this is what the user hears and says.
func (c *call) heldHere() bool { return c.localHold || c.resuming }

func (c *call) answered() bool {
	return c.state == phone.CallActive || c.state == phone.CallHeld
}

// remoteTag is the far end's tag of c's dialog ("" before there is one): the From tag of the
// INVITE we answer, or the To tag of the answer to ours (set by onInviteDone).
func (c *call) remoteTag() string { return c.farTag }

// dialog returns the call's in-dialog request sender, whichever side created it.
func (c *call) dialog() inDialog {
	if c.cdlg != nil {
		return c.cdlg
	}
	if c.sdlg != nil {
		return c.sdlg
	}
	return nil
}

// remoteTarget is where in-dialog requests go: the far end's Contact.
func (c *call) remoteTarget() sip.Uri {
	if c.cdlg != nil && c.cdlg.InviteResponse != nil {
		if ct := c.cdlg.InviteResponse.Contact(); ct != nil {
			return *ct.Address.Clone()
		}
		return c.cdlg.InviteRequest.Recipient
	}
	if c.sdlg != nil {
		if ct := c.sdlg.InviteRequest.Contact(); ct != nil {
			return *ct.Address.Clone()
		}
	}
	return sip.Uri{}
}

func (c *call) snapshot(now time.Time) phone.CallInfo {
	ci := phone.CallInfo{
		ID:         c.id,
		Direction:  c.dir,
		Remote:     c.remote,
		RemoteName: c.remoteNm,
		Account:    c.account,
		State:      c.state,
		Codec:      c.codec.Name,
		Encryption: c.encryption(),
		Muted:      c.muted,
		LocalHold:  c.heldHere(),
		RemoteHold: c.remHold,
		Conference: c.conf.ids(),
		Started:    c.started,
		Answered:   c.answerAt,
		Ended:      c.ended,
		EndReason:  c.endReason,
		Result:     c.result,
		Silent:     c.silent,
		Voicemail:  c.voicemail,
	}
	if c.sess != nil {
		ci.Media = c.sess.Stats()
	}
	if c.recording.rec != nil {
		ci.Recording = c.recording.rec.Path()
	}
	ci.AutoAnswered = c.autoAnswered
	if c.xfer != nil {
		ti := c.xfer.info
		ci.Transfer = &ti
	}
	ci.Duration = durationAt(ci, now)
	return ci
}
