// Package phone is trayphone's shared vocabulary: call and registration states, snapshots of calls
// and accounts, and the events the core publishes. It imports only the standard library so that every
// other package (the core, the tray, the control socket) can speak it.
package phone

import (
	"fmt"
	"time"
)

// ProtocolVersion is the version of the control protocol and of the JSON shapes below.
const ProtocolVersion = 1

// CallState is where a call is in its life. The zero value is CallUnknown.
type CallState int

// Call states, as a user sees them.
const (
	CallUnknown  CallState = iota
	CallDialing            // INVITE sent, no ringing yet
	CallRinging            // outgoing call, the far end is ringing (180/183)
	CallIncoming           // incoming call, ringing here
	CallActive             // answered, media flowing
	CallHeld               // answered, on hold (by us or by the far end)
	CallEnded              // over; EndReason says why
)

var callStateNames = [...]string{"unknown", "dialing", "ringing", "incoming", "active", "held", "ended"}

// String returns the lowercase word used in status output and JSON.
func (s CallState) String() string {
	if s < 0 || int(s) >= len(callStateNames) {
		return "unknown"
	}
	return callStateNames[s]
}

// MarshalText implements encoding.TextMarshaler.
func (s CallState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *CallState) UnmarshalText(b []byte) error {
	for i, n := range callStateNames {
		if n == string(b) {
			*s = CallState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown call state %q", b)
}

// Direction tells who placed a call.
type Direction int

// Directions.
const (
	DirectionUnknown Direction = iota
	Outgoing
	Incoming
)

var directionNames = [...]string{"unknown", "outgoing", "incoming"}

// String returns "outgoing" or "incoming".
func (d Direction) String() string {
	if d < 0 || int(d) >= len(directionNames) {
		return "unknown"
	}
	return directionNames[d]
}

// MarshalText implements encoding.TextMarshaler.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Direction) UnmarshalText(b []byte) error {
	for i, n := range directionNames {
		if n == string(b) {
			*d = Direction(i)
			return nil
		}
	}
	return fmt.Errorf("unknown direction %q", b)
}

// RegState is an account's registration state. The zero value is RegUnknown.
type RegState int

// Registration states.
const (
	RegUnknown RegState = iota
	RegUnregistered
	RegRegistering
	RegRegistered
	RegFailed
)

var regStateNames = [...]string{"unknown", "unregistered", "registering", "registered", "failed"}

// String returns the lowercase word used in status output and JSON.
func (s RegState) String() string {
	if s < 0 || int(s) >= len(regStateNames) {
		return "unknown"
	}
	return regStateNames[s]
}

// MarshalText implements encoding.TextMarshaler.
func (s RegState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *RegState) UnmarshalText(b []byte) error {
	for i, n := range regStateNames {
		if n == string(b) {
			*s = RegState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown registration state %q", b)
}

// MediaStats are the numbers of one call's audio stream.
type MediaStats struct {
	PacketsSent     uint64  `json:"packets_sent"`
	PacketsReceived uint64  `json:"packets_received"`
	PacketsLost     uint64  `json:"packets_lost"`
	Duplicates      uint64  `json:"duplicates"`
	Late            uint64  `json:"late"`
	JitterMS        float64 `json:"jitter_ms"`
	// RTTMS is the round-trip time from RTCP (RFC 3550 §6.4.1), 0 until the far end reported.
	RTTMS float64 `json:"rtt_ms"`
	// RemoteLoss is the fraction (0-1) of our packets the far end last reported lost, and
	// RemoteJitterMS the jitter it measured on them, from its RTCP reports.
	RemoteLoss     float64 `json:"remote_loss"`
	RemoteJitterMS float64 `json:"remote_jitter_ms"`
	// RTCPSent and RTCPReceived count RTCP compound packets.
	RTCPSent     uint64 `json:"rtcp_sent"`
	RTCPReceived uint64 `json:"rtcp_received"`
	// MOS is the ITU-T G.107 E-model estimate (1-4.5) of how the received audio sounds.
	MOS float64 `json:"mos"`
	// Concealed counts the frames of the far end's audio that were made up (lost or late
	// packets), DelayChanges the steps by which the playout delay moved (each a pitch period
	// taken out or put in), and Stalls the times this computer held the call's audio up so long
	// that frames were skipped.
	Concealed    uint64 `json:"concealed"`
	DelayChanges uint64 `json:"delay_changes"`
	Stalls       uint64 `json:"stalls"`
}

// CallInfo is a snapshot of one call. It is a value: holding it never blocks the core.
type CallInfo struct {
	ID         string    `json:"id"`
	Direction  Direction `json:"direction"`
	Remote     string    `json:"remote"`
	RemoteName string    `json:"remote_name,omitempty"`
	Account    string    `json:"account,omitempty"`
	State      CallState `json:"state"`
	Codec      string    `json:"codec,omitempty"`
	// Encryption is how the call's audio is protected: "none", "srtp" (SDES keys) or
	// "dtls-srtp". For a ringing incoming call it is what answering will give.
	Encryption string `json:"encryption,omitempty"`
	Muted      bool   `json:"muted"`
	LocalHold  bool   `json:"local_hold"`
	RemoteHold bool   `json:"remote_hold"`
	// Conference lists the calls joined in a local conference with this one, by ID, this one
	// included, in the order they joined; empty when the call is in no conference.
	Conference []string  `json:"conference,omitempty"`
	Started    time.Time `json:"started"`
	Answered   time.Time `json:"answered,omitzero"`
	Ended      time.Time `json:"ended,omitzero"`
	Duration   Seconds   `json:"duration"`
	EndReason  string    `json:"end_reason,omitempty"`
	// Result is how an ended call went, for the history (one of the Result constants); "" while
	// the call is under way.
	Result string     `json:"result,omitempty"`
	Media  MediaStats `json:"media"`
	// Recording is the file the call is being recorded to, "" while it is not.
	Recording string `json:"recording,omitempty"`
	// AutoAnswered says the call was answered without the user (auto-answer or intercom): the
	// microphone opened by itself.
	AutoAnswered bool `json:"auto_answered,omitempty"`
	// Silent marks an incoming call a screening rule let ring without sound (action "silent").
	Silent bool `json:"silent,omitempty"`
	// Voicemail marks a call the answering machine has taken: the user does not hear it.
	Voicemail bool `json:"voicemail,omitempty"`
	// Transfer is the latest transfer of this call, ours or the far end's, nil if none.
	Transfer *TransferInfo `json:"transfer,omitempty"`
}

// TransferInfo is where a call transfer stands (REFER, RFC 3515; progress from the NOTIFYs'
// message/sipfrag).
type TransferInfo struct {
	// Role is "transferor" when the user transfers the call, "transferee" when the far end
	// transferred the user (the phone then calls Target).
	Role string `json:"role"`
	// Target is the address the call is transferred to.
	Target string `json:"target"`
	// Attended is true for a transfer that replaces a consultation call (RFC 3891 Replaces);
	// Consult is that call's ID when it is ours.
	Attended bool   `json:"attended,omitempty"`
	Consult  string `json:"consult,omitempty"`
	// State is "trying", "ringing", "succeeded" or "failed".
	State string `json:"state"`
	// Status and Reason are the SIP status the target answered, when one is known.
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// NewCall is the ID of the call the phone placed to Target (transferee only).
	NewCall string `json:"new_call,omitempty"`
}

// How a call ended, as the call history says it (HistoryEntry.Result).
const (
	ResultAnswered  = "answered"  // talked: answered here, or the far end answered ours
	ResultMissed    = "missed"    // rang here and nobody answered (the caller gave up, it timed out, do not disturb)
	ResultDeclined  = "declined"  // declined here, or the far end declined ours (603)
	ResultBusy      = "busy"      // the far end was busy (486, 600), or every line here was
	ResultFailed    = "failed"    // could not be set up: unreachable, refused, no common codec, ...
	ResultCancelled = "cancelled" // we gave up on our call before it was answered, or it was answered elsewhere
	ResultForwarded = "forwarded" // sent elsewhere by call forwarding (302) without ringing, or after ringing unanswered
	ResultScreened  = "screened"  // refused by a screening rule: it never rang
	ResultVoicemail = "voicemail" // the answering machine took it (whether or not a message was left)
)

// Forward is call forwarding: incoming calls go to Target (a SIP URI) with 302 Moved
// Temporarily always, when the phone is busy, or after ringing After seconds unanswered.
type Forward struct {
	Mode   string  `json:"mode"` // one of the Forward* modes
	Target string  `json:"target,omitempty"`
	After  Seconds `json:"after,omitempty"` // ForwardNoAnswer only
}

// Forwarding modes.
const (
	ForwardOff      = "off"
	ForwardAlways   = "always"
	ForwardBusy     = "busy"     // when a call would get 486 Busy Here (busy, do not disturb)
	ForwardNoAnswer = "noanswer" // after ringing After seconds
)

// String says what f does, e.g. "after 20 s unanswered to sip:desk@example.org".
func (f Forward) String() string {
	switch f.Mode {
	case ForwardAlways:
		return "always to " + f.Target
	case ForwardBusy:
		return "when busy to " + f.Target
	case ForwardNoAnswer:
		return fmt.Sprintf("after %g s unanswered to %s", float64(f.After), f.Target)
	}
	return "off"
}

// HistoryEntry is one call in the call history (trayphone history --json).
type HistoryEntry struct {
	Remote    string    `json:"remote"`
	Name      string    `json:"name"`
	Direction Direction `json:"direction"`
	Result    string    `json:"result"`
	// Start is when the call began (rang here, or we dialled).
	Start time.Time `json:"start"`
	// Duration is how long the call was answered, in whole seconds (0 when it never was).
	Duration Seconds `json:"duration"`
	Account  string  `json:"account"`
	// Reason says in plain words why the call ended.
	Reason string `json:"reason,omitempty"`
	// Unseen marks a missed call the user has not looked at yet (the tray's recent calls were
	// not opened since). It is worked out when the history is listed, not stored.
	Unseen bool `json:"unseen,omitempty"`
}

// Seconds is a duration that marshals as a number of seconds.
type Seconds float64

// AccountInfo is a snapshot of one account.
type AccountInfo struct {
	ID     string   `json:"id"`
	AOR    string   `json:"aor"`
	State  RegState `json:"state"`
	Reason string   `json:"reason,omitempty"`
	// VoicemailURI is the account's voicemail box to call ("voicemail" in its [[account]]
	// table), "" if none is configured.
	VoicemailURI string `json:"voicemail_uri,omitempty"`
	// Voicemail is what the account's voicemail server last said about its box (RFC 3842
	// message-summary); nil until it has said anything.
	Voicemail *MessageCount `json:"voicemail,omitempty"`
}

// MessageCount is how many voice messages wait in a voicemail box.
type MessageCount struct {
	New int `json:"new"`
	Old int `json:"old"`
	// Waiting is the server's Messages-Waiting flag.
	Waiting bool `json:"waiting"`
}

// FavoriteState is what a favorite's phone is doing (BLF, RFC 4235 dialog state).
type FavoriteState struct {
	Name string `json:"name"`
	URI  string `json:"uri"`
	// Account is the account whose domain the favorite is in (the subscription goes through it).
	Account string `json:"account"`
	// State is "idle", "ringing", "busy", or "unknown" until the server has said.
	State string `json:"state"`
}

// Status is a snapshot of the whole phone.
type Status struct {
	Version  int           `json:"version"`
	PID      int           `json:"pid"`
	Contact  []string      `json:"contact"`
	DND      bool          `json:"dnd"`
	Accounts []AccountInfo `json:"accounts"`
	Calls    []CallInfo    `json:"calls"`
	// NAT is what the phone found out about its way to the internet; nil without a STUN server.
	NAT *NATInfo `json:"nat,omitempty"`
	// Favorites are the favorites on the same domain as an account, with their line state (BLF).
	Favorites []FavoriteState `json:"favorites,omitempty"`
	// Forward is the call forwarding in force; nil when it is off.
	Forward *Forward `json:"forward,omitempty"`
}

// NATInfo is the public address and NAT type STUN found, and what the phone did about them.
type NATInfo struct {
	STUNServer string `json:"stun_server"`
	// Public is the SIP socket's address as seen from the internet (host:port), "" if unknown.
	Public string `json:"public,omitempty"`
	// Type is "none", "endpoint-independent", "address-dependent", "symmetric" or "unknown".
	Type string `json:"type"`
	// Filtering is the NAT's filtering behaviour in RFC 4787 words, "" if unknown.
	Filtering string `json:"filtering,omitempty"`
	// PortMapping names the gateway protocol that mapped our ports ("UPnP", "NAT-PMP"), "" if none.
	PortMapping string `json:"port_mapping,omitempty"`
	// Relay is the TURN relay in use (host:port), "" if none.
	Relay string `json:"relay,omitempty"`
	// RelayReason says in plain words why the TURN relay is or is not in use.
	RelayReason string `json:"relay_reason,omitempty"`
	// Detected lists, in plain words, what the phone found out about the NAT beyond its type
	// (e.g. that the STUN server and the registrar see the SIP socket at different ports).
	Detected []string `json:"detected,omitempty"`
	// Watch says how network changes and wake-ups are noticed (e.g. "netlink; logind").
	Watch string `json:"watch,omitempty"`
	// Error says in plain words why discovery failed, "" when it worked.
	Error   string    `json:"error,omitempty"`
	Checked time.Time `json:"checked,omitzero"`
}

// EventType names an event.
type EventType string

// Event types.
const (
	EventCall    EventType = "call"    // a call changed; Call holds its new snapshot
	EventAccount EventType = "account" // an account changed; Account holds its snapshot
	EventDTMF    EventType = "dtmf"    // a DTMF digit arrived; Call and Digit are set
	EventWarning EventType = "warning" // something the user should know; Message says what
	EventStatus  EventType = "status"  // phone-wide state changed (DND); Status is set
	// EventRecordingStarted: Call is being recorded to File from now on.
	EventRecordingStarted EventType = "recording_started"
	// EventRecordingStopped: the recording of Call to File ended; Message says why when it
	// stopped by itself (the disk is full, ...), and is empty when the user or the call's end
	// stopped it.
	EventRecordingStopped EventType = "recording_stopped"
	// EventVoicemail: the answering machine kept a new message; Voicemail describes it.
	EventVoicemail EventType = "message"
	// EventTransfer: a transfer of a call moved on; Call holds the call's snapshot, whose
	// Transfer says where the transfer stands.
	EventTransfer EventType = "transfer"
	// EventMWI: an account's voicemail box changed; Account holds the snapshot with Voicemail.
	EventMWI EventType = "mwi"
	// EventFavorite: a favorite's line state changed; Favorite holds it.
	EventFavorite EventType = "favorite"
)

// VoicemailMessage is one message the answering machine recorded (trayphone messages --json).
type VoicemailMessage struct {
	ID string `json:"id"`
	// From is the caller's address, Name their display name ("" if none was sent).
	From string `json:"from"`
	Name string `json:"name,omitempty"`
	// Start is when the caller started speaking (after the beep).
	Start time.Time `json:"start"`
	// Duration is the message's length in seconds.
	Duration Seconds `json:"duration"`
	// File is the message's WAV file (mono 16-bit PCM, 0600).
	File string `json:"file"`
	// New is true until the message has been played.
	New bool `json:"new"`
}

// Event is something that happened in the core. Events carry full snapshots, so a consumer that
// misses some still ends up with the latest state.
type Event struct {
	Type    EventType    `json:"type"`
	Time    time.Time    `json:"time"`
	Call    *CallInfo    `json:"call,omitempty"`
	Account *AccountInfo `json:"account,omitempty"`
	Status  *Status      `json:"status,omitempty"`
	Digit   string       `json:"digit,omitempty"`
	Message string       `json:"message,omitempty"`
	// File is the recording's path (recording_started, recording_stopped).
	File string `json:"file,omitempty"`
	// Voicemail is the new message of an EventVoicemail.
	Voicemail *VoicemailMessage `json:"voicemail,omitempty"`
	// Favorite is the favorite of an EventFavorite.
	Favorite *FavoriteState `json:"favorite,omitempty"`
}
