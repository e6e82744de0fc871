package callmgr

import (
	"strconv"
	"strings"
	"time"
)

// maxIntercomDelay bounds the delay an intercom request may ask for.
const maxIntercomDelay = time.Minute

// intercomRequest reads an INVITE's request to be answered automatically (an intercom or
// paging call) from its header values, and the delay it asks for:
//
//   - Call-Info: <uri>;answer-after=N (Polycom, Snom, Yealink, Asterisk's paging)
//   - Alert-Info: <uri>;info=alert-autoanswer[;delay=N], info=auto-answer, or the bare tokens
//     "auto-answer", "autoanswer", "Auto Answer" (Cisco, Grandstream, Linksys)
//   - Answer-Mode: Auto (RFC 5373 §2), optionally with ;require
//
// It is pure and takes the raw values of each header (several headers or comma-separated
// values alike). It only reads the request; whether it is honoured is the caller's choice
// (only from the callers the user allowed).
func intercomRequest(callInfo, alertInfo, answerMode []string) (time.Duration, bool) {
	for _, v := range splitValues(callInfo) {
		for _, p := range params(v) {
			name, val, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(name), "answer-after") {
				if d, ok := seconds(val); ok {
					return d, true
				}
			}
		}
	}
	for _, v := range splitValues(alertInfo) {
		bare := strings.ToLower(strings.Join(strings.Fields(unquote(v)), " "))
		if bare == "auto-answer" || bare == "autoanswer" || bare == "auto answer" {
			return 0, true
		}
		auto, delay := false, time.Duration(0)
		for _, p := range params(v) {
			name, val, _ := strings.Cut(p, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "info":
				switch strings.ToLower(unquote(val)) {
				case "alert-autoanswer", "auto-answer", "autoanswer", "intercom":
					auto = true
				}
			case "delay":
				if d, ok := seconds(val); ok {
					delay = d
				}
			}
		}
		if auto {
			return delay, true
		}
	}
	for _, v := range splitValues(answerMode) {
		mode, _, _ := strings.Cut(v, ";")
		if strings.EqualFold(strings.TrimSpace(mode), "auto") {
			return 0, true
		}
	}
	return 0, false
}

// splitValues splits header values at commas outside <...> and quotes.
func splitValues(vals []string) []string {
	var out []string
	for _, v := range vals {
		depth, quoted, start := 0, false, 0
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"':
				quoted = !quoted
			case quoted:
			case c == '<':
				depth++
			case c == '>' && depth > 0:
				depth--
			case c == ',' && depth == 0:
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
		out = append(out, strings.TrimSpace(v[start:]))
	}
	return out
}

// params returns the ;-separated parameters of a header value after its <uri>, if any.
func params(v string) []string {
	if i := strings.LastIndexByte(v, '>'); i >= 0 {
		v = v[i+1:]
	}
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), `"`) }

// seconds parses a whole number of seconds from 0 to maxIntercomDelay.
func seconds(s string) (time.Duration, bool) {
	n, err := strconv.Atoi(unquote(s))
	// Compared as a count of seconds: multiplied first, a huge one wraps around to a negative
	// duration (found by FuzzIntercomRequest: answer-after=9227000000).
	if err != nil || n < 0 || int64(n) > int64(maxIntercomDelay/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
