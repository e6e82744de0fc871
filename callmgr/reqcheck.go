package callmgr

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// singleHeaders are the header fields a request carries exactly once (RFC 3261 section 7.3.1 and
// table 2; RFC 4475 3.3.8 and 3.3.9 send two of them).
var singleHeaders = []string{"To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"}

// supportedOptions are the option tags a Require may name (RFC 3261 section 19.2): replaces
// (RFC 3891, an INVITE with Replaces: incoming.go), which our own attended transfer sends, and
// norefersub (RFC 4488, a REFER with Refer-Sub: false: transfer.go).
var supportedOptions = map[string]bool{"replaces": true, "norefersub": true}

// checkRequest applies the checks of RFC 3261 section 8.2 that every request gets before a
// handler sees it, and returns the response for one that fails (nil: go on). It is pure.
//   - A Request-URI scheme other than sip, sips or tel: 416 (section 8.2.2.1).
//   - A CSeq method other than the request's, or a single-valued header field given twice: 400
//     (sections 8.2 and 7.3.1; RFC 4475 3.1.2.16, 3.3.8, 3.3.9).
//   - A Require option tag other than those in supportedOptions: 420 with Unsupported
//     (section 8.2.2.3). CANCEL and ACK are exempt (section 8.2.2.3).
func checkRequest(req *sip.Request) *sip.Response {
	if req.IsAck() {
		return nil
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return sip.NewResponseFromRequest(req, 416, "Unsupported URI Scheme", nil)
	}
	// sipgo upper-cases the request line's method but not CSeq's: compare without case.
	if cs := req.CSeq(); cs != nil && !strings.EqualFold(string(cs.MethodName), string(req.Method)) {
		return sip.NewResponseFromRequest(req, 400, "Bad Request (CSeq method does not match)", nil)
	}
	for _, name := range singleHeaders {
		if len(req.GetHeaders(name)) > 1 {
			return sip.NewResponseFromRequest(req, 400, "Bad Request (more than one "+name+")", nil)
		}
	}
	if req.IsCancel() {
		return nil
	}
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !supportedOptions[strings.ToLower(tag)] {
				tags = append(tags, tag)
			}
		}
	}
	if len(tags) > 0 {
		res := sip.NewResponseFromRequest(req, 420, "Bad Extension", nil)
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
		return res
	}
	return nil
}
