package callmgr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/sipua"
	"trayphone/media"
)

// DTMF goes out as RFC 4733 telephone-events in the RTP stream when the far end offered them, and
// otherwise as SIP INFO requests with an application/dtmf-relay body, one per digit: the de-facto
// format of Cisco and most PBXs (there is no RFC for it):
//
//	Signal=5
//	Duration=160
//
// Received INFO digits are published like RTP ones.

// dtmfRelayType is the content type of a SIP INFO DTMF digit.
const dtmfRelayType = "application/dtmf-relay"

// infoDTMFDuration is the Duration an INFO digit announces, in milliseconds.
const infoDTMFDuration = 160

// SendDTMF sends digits (0-9, *, #, A-D) on call id ("" for the only answered call).
func (m *Manager) SendDTMF(ctx context.Context, id, digits string) error {
	if err := media.CheckDTMF(digits); err != nil {
		return err
	}
	return m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.answered() }, "answered")
		if err != nil {
			return err
		}
		if c.sess != nil {
			err := c.sess.SendDTMF(digits)
			if !errors.Is(err, media.ErrNoTelephoneEvent) {
				return err
			}
		}
		return m.sendDTMFInfo(c, digits)
	})
}

// sendDTMFInfo sends digits one SIP INFO each, in order, from a goroutine; a refused or failed
// INFO stops the rest and is reported as a warning.
func (m *Manager) sendDTMFInfo(c *call, digits string) error {
	dlg := c.dialog()
	if dlg == nil {
		return errors.New("the call has no dialog yet")
	}
	target := c.remoteTarget()
	go func() {
		// Ends after the last digit's INFO has its final response (each bounded by Timer F) or the
		// phone stops.
		for _, d := range strings.ToUpper(digits) {
			req := sip.NewRequest(sip.INFO, target)
			req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
			req.AppendHeader(sip.NewHeader("Content-Type", dtmfRelayType))
			req.SetBody(dtmfRelayBody(d))
			ctx, cancel := context.WithTimeout(m.ctx, 32*time.Second)
			res, err := dlg.Do(ctx, req)
			cancel()
			if err == nil && !res.IsSuccess() {
				err = fmt.Errorf("%d %s", res.StatusCode, res.Reason)
			}
			if err != nil {
				if m.ctx.Err() == nil {
					m.post(func() { m.warn(c, fmt.Sprintf("%s did not take DTMF digit %c: %v", c.remote, d, err)) })
				}
				return
			}
		}
	}()
	return nil
}

// dtmfRelayBody is the application/dtmf-relay body for digit d.
func dtmfRelayBody(d rune) []byte {
	return []byte("Signal=" + string(d) + "\r\nDuration=" + strconv.Itoa(infoDTMFDuration) + "\r\n")
}

// parseDTMFRelay reads the digit of an application/dtmf-relay body: the value of its Signal line
// (keys are case-insensitive, spaces around '=' are allowed). Some senders write 10 for * and 11
// for #.
func parseDTMFRelay(body []byte) (rune, bool) {
	for line := range strings.Lines(string(body)) {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "signal") {
			continue
		}
		switch v = strings.ToUpper(strings.TrimSpace(v)); v {
		case "10":
			return '*', true
		case "11":
			return '#', true
		}
		if len(v) == 1 && strings.Contains(media.DTMFKeys, v) {
			return rune(v[0]), true
		}
		return 0, false
	}
	return 0, false
}

// handleInfo answers an in-dialog INFO: a DTMF digit is published; other INFO packages are
// refused with 415 (RFC 6086 §4.2.2 lets a UA without INFO packages do so).
func (m *Manager) handleInfo(req *sip.Request, tx sip.ServerTransaction) {
	m.await(func() {
		c := m.dialogOf(req)
		if c == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		ct := ""
		if h := req.ContentType(); h != nil {
			ct, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(h.Value())), ";")
		}
		if len(req.Body()) == 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)) // a keepalive INFO
			return
		}
		if strings.TrimSpace(ct) != dtmfRelayType {
			res := sip.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
			res.AppendHeader(sip.NewHeader("Accept", dtmfRelayType))
			_ = tx.Respond(res)
			return
		}
		d, ok := parseDTMFRelay(req.Body())
		if !ok {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad DTMF Signal", nil))
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		m.onDTMF(c.id, d)
	})
}
