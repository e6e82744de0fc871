package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"trayphone/internal/phone"
)

// HistoryStore keeps the call history (internal/history.Store). Add must not block.
type HistoryStore interface {
	Add(phone.HistoryEntry)
	List() []phone.HistoryEntry
	LastOutgoing() (phone.HistoryEntry, bool)
	MarkSeen(time.Time)
}

// historyEntry is the history's record of an ended call. favorite is the favorite's name the
// user dialled ("" if none): the name when the far end sent none.
func historyEntry(ci phone.CallInfo, favorite string) phone.HistoryEntry {
	name := ci.RemoteName
	if name == "" {
		name = favorite
	}
	return phone.HistoryEntry{
		Remote:    ci.Remote,
		Name:      name,
		Direction: ci.Direction,
		Result:    ci.Result,
		Start:     ci.Started.Round(0).Truncate(time.Second),
		Duration:  ci.Duration,
		Account:   ci.Account,
		Reason:    ci.EndReason,
	}
}

// History returns the call history, newest first (empty without a store).
func (m *Manager) History() []phone.HistoryEntry {
	if m.cfg.History == nil {
		return []phone.HistoryEntry{}
	}
	return m.cfg.History.List()
}

// MarkMissedSeen marks the missed calls in the history as seen: the user looked at them.
func (m *Manager) MarkMissedSeen() {
	if m.cfg.History != nil {
		m.cfg.History.MarkSeen(m.clk.Now())
	}
}

// errNoRedial is returned by Redial when the history has no outgoing call.
var errNoRedial = errors.New("nothing to redial: the call history has no outgoing call")

// Redial calls the remote of the latest outgoing call in the history again, through the same
// account.
func (m *Manager) Redial(ctx context.Context) (phone.CallInfo, error) {
	if m.cfg.History == nil {
		return phone.CallInfo{}, errNoRedial
	}
	last, ok := m.cfg.History.LastOutgoing()
	if !ok {
		return phone.CallInfo{}, errNoRedial
	}
	return m.Call(ctx, last.Remote, last.Account)
}

// HistoryCommand is the control handler of "history": the history, newest first.
func HistoryCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(context.Context, json.RawMessage) (any, error) { return m.History(), nil }
}

// RedialCommand is the control handler of "redial": the new call's snapshot.
func RedialCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, _ json.RawMessage) (any, error) {
		ci, err := m.Redial(ctx)
		if err != nil {
			return nil, fmt.Errorf("redial: %w", err)
		}
		return ci, nil
	}
}
