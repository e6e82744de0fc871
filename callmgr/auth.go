package callmgr

import (
	"context"
	"errors"
	"log/slog"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/sipua"
)

// inDialog is what both kinds of sipgo dialog offer for requests inside the dialog.
type inDialog interface {
	Do(context.Context, *sip.Request) (*sip.Response, error)
	WriteRequest(*sip.Request) error
}

// credentials returns how the account call c went through authenticates (nil for a direct call,
// or when the account has no password).
func (m *Manager) credentials(c *call) *sipua.Outbound {
	if c.account == "" || m.cfg.Accounts == nil {
		return nil
	}
	ob, err := m.cfg.Accounts.Outbound(c.account)
	if err != nil || ob == nil || ob.Password == "" {
		return nil
	}
	return ob
}

// doAuthed sends the request build makes inside dlg. If a proxy challenges it (401/407) and there
// are credentials, it sends a fresh copy (new CSeq) once more with them (RFC 3261 §22.2), but only
// when the challenge comes from the account's own proxy and realm (sipua.CheckChallenge): otherwise
// it returns the refusal as the error.
func doAuthed(ctx context.Context, dlg inDialog, build func() *sip.Request, ob *sipua.Outbound) (*sip.Response, error) {
	res, err := dlg.Do(ctx, build())
	if err != nil || ob == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, err
	}
	if err := ob.CheckChallenge(res, firstHop(dlg)); err != nil {
		return res, err
	}
	chal, cerr := sipua.ChallengeOf(res)
	if cerr != nil {
		return res, nil
	}
	req := build()
	if err := sipua.Authorize(req, chal, ob.AuthUser, ob.Password, 1); err != nil {
		return res, nil
	}
	return dlg.Do(ctx, req)
}

// firstHop is where a request inside dlg goes first: the first entry of its route set, else the
// far end's Contact (RFC 3261 §12.2.1.1).
func firstHop(dlg inDialog) sip.Uri {
	var rr []*sip.RecordRouteHeader
	switch d := dlg.(type) {
	case *sipgo.DialogClientSession:
		if d.InviteResponse != nil {
			// The caller's route set is the response's Record-Route in reverse order.
			for _, h := range d.InviteResponse.GetHeaders("Record-Route") {
				if r, ok := h.(*sip.RecordRouteHeader); ok {
					rr = append([]*sip.RecordRouteHeader{r}, rr...)
				}
			}
		}
	case *sipgo.DialogServerSession:
		for _, h := range d.InviteRequest.GetHeaders("Record-Route") {
			if r, ok := h.(*sip.RecordRouteHeader); ok {
				rr = append(rr, r)
			}
		}
	}
	if len(rr) > 0 {
		return rr[0].Address
	}
	target, _, _ := byeTarget(dlg)
	return target
}

// byeTarget is where a BYE on dlg goes: the far end's Contact (RFC 3261 §12.2.1.1).
func byeTarget(dlg inDialog) (sip.Uri, string, bool) {
	switch d := dlg.(type) {
	case *sipgo.DialogClientSession:
		if d.InviteResponse == nil {
			return sip.Uri{}, "", false
		}
		target := d.InviteRequest.Recipient
		if ct := d.InviteResponse.Contact(); ct != nil {
			target = ct.Address
		}
		return *target.Clone(), d.InviteRequest.Transport(), true
	case *sipgo.DialogServerSession:
		if ct := d.InviteRequest.Contact(); ct != nil {
			return *ct.Address.Clone(), d.InviteRequest.Transport(), true
		}
	}
	return sip.Uri{}, "", false
}

// byeAuthed ends a call: BYE, and once more with the account's credentials when a proxy
// challenges it (401/407). It returns when the BYE is answered or after shutdownGrace.
func byeAuthed(dlg interface {
	inDialog
	Bye(context.Context) error
}, ob *sipua.Outbound, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := dlg.Bye(ctx)
	if err == nil || ob == nil {
		return
	}
	var v sipgo.ErrDialogResponse
	var p *sipgo.ErrDialogResponse
	var res *sip.Response
	switch {
	case errors.As(err, &v):
		res = v.Res
	case errors.As(err, &p):
		res = p.Res
	}
	if res == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return
	}
	if err := ob.CheckChallenge(res, firstHop(dlg)); err != nil {
		log.Warn("hang-up not confirmed: "+err.Error(), "call_id", res.CallID().Value())
		return
	}
	chal, err := sipua.ChallengeOf(res)
	if err != nil {
		return
	}
	target, transport, ok := byeTarget(dlg)
	if !ok {
		return
	}
	bye := sip.NewRequest(sip.BYE, target)
	bye.SetTransport(transport)
	if err := sipua.Authorize(bye, chal, ob.AuthUser, ob.Password, 1); err != nil {
		return
	}
	_, _ = dlg.Do(ctx, bye)
}
