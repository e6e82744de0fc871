package screen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a parsed "when" value: days of the week and a time of day, in local time.
// "Mon-Fri 09:00-18:00", "Sat,Sun", "22:00-07:00" (overnight: it belongs to the day it starts on),
// "Mon-Fri" (all day), "Fri-Mon 18:00-08:00".
type Window struct {
	days [7]bool // by time.Weekday; all true when no days were given
	// from and to are minutes since midnight; from == 0 && to == 24*60 is all day. to < from
	// wraps past midnight.
	from, to int
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWhen parses a "when" value; the error says what is wrong in words.
func ParseWhen(s string) (Window, error) {
	w := Window{from: 0, to: 24 * 60}
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 2 {
		return Window{}, fmt.Errorf("%q is not days and a time range such as \"Mon-Fri 09:00-18:00\"", s)
	}
	haveDays := false
	for _, f := range fields {
		if f[0] >= '0' && f[0] <= '9' {
			from, to, err := parseTimes(f)
			if err != nil {
				return Window{}, fmt.Errorf("%q: %v", s, err)
			}
			w.from, w.to = from, to
			continue
		}
		if haveDays {
			return Window{}, fmt.Errorf("%q: days given twice; write them as one list such as \"Mon-Fri\" or \"Sat,Sun\"", s)
		}
		days, err := parseDays(f)
		if err != nil {
			return Window{}, fmt.Errorf("%q: %v", s, err)
		}
		w.days, haveDays = days, true
	}
	if len(fields) == 2 && (!haveDays || fields[0][0] >= '0' && fields[0][0] <= '9') {
		return Window{}, fmt.Errorf("%q: write the days first, then one time range, such as \"Mon-Fri 09:00-18:00\"", s)
	}
	if !haveDays {
		for i := range w.days {
			w.days[i] = true
		}
	}
	return w, nil
}

// parseDays parses "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri", "Fri-Mon" (wrapping).
func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		da, ok := dayNames[strings.ToLower(a)]
		if !ok {
			return days, fmt.Errorf("%q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", a)
		}
		if !isRange {
			days[da] = true
			continue
		}
		db, ok := dayNames[strings.ToLower(b)]
		if !ok {
			return days, fmt.Errorf("%q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", b)
		}
		for d := da; ; d = (d + 1) % 7 {
			days[d] = true
			if d == db {
				break
			}
		}
	}
	return days, nil
}

// parseTimes parses "09:00-18:00" into minutes since midnight; "24:00" is allowed as an end.
func parseTimes(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a time range such as 09:00-18:00", s)
	}
	from, err := parseClock(a, false)
	if err != nil {
		return 0, 0, err
	}
	to, err := parseClock(b, true)
	if err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("the time range %q is empty (it starts and ends at the same time)", s)
	}
	return from, to, nil
}

// parseClock parses HH:MM (00:00-23:59, and 24:00 as an end).
func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time such as 09:00", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !end)) || h[0] == '+' || h[0] == '-' {
		return 0, fmt.Errorf("%q is not a time of day from 00:00 to 23:59 (24:00 only as an end)", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether t (in its own location: pass local time) is inside the window. A range
// past midnight belongs to the day it starts on: "Fri 22:00-02:00" includes Saturday 01:00.
func (w Window) Contains(t time.Time) bool {
	mins := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if w.from < w.to {
		return w.days[day] && mins >= w.from && mins < w.to
	}
	// Overnight: from today's start to midnight, or from midnight to the end, counted to the
	// previous day.
	if mins >= w.from {
		return w.days[day]
	}
	if mins < w.to {
		return w.days[(day+6)%7]
	}
	return false
}
