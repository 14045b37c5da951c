package urlcache

import (
	"net/http"
	"time"
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 section 5.6.7) in one of its
// three formats, exactly as the grammar spells them:
//
//	IMF-fixdate   Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date   Sunday, 06-Nov-94 08:49:37 GMT
//	asctime-date  Sun Nov  6 08:49:37 1994
//
// Every space is a single space (asctime pads a one-digit day with a
// second), every number has its fixed count of digits, and the date and
// time must exist (second 60, a leap second, is accepted). Day names, month
// names and "GMT" are matched regardless of case, as browsers do; the day
// name is not checked against the date. A two-digit rfc850 year more than
// 50 years in the future is taken to be in the past century. Anything else
// (extra or missing spaces, a one-digit hour, a time zone other than GMT,
// a list of dates) is not a date.
func ParseHTTPDate(s string) (time.Time, bool) {
	switch {
	case len(s) == len("Sun, 06 Nov 1994 08:49:37 GMT") && s[3] == ',':
		return parseIMFFixdate(s)
	case len(s) == len("Sun Nov  6 08:49:37 1994") && s[3] == ' ':
		return parseASCTime(s)
	}
	return parseRFC850(s)
}

// parseDate returns the date in h's field name. A field that is missing,
// appears on several lines, or does not parse (see ParseHTTPDate) gives
// false.
func parseDate(h http.Header, name string) (time.Time, bool) {
	vs := h[name]
	if len(vs) != 1 {
		return time.Time{}, false
	}
	return ParseHTTPDate(trimOWS(vs[0]))
}

// trimOWS removes the optional whitespace (spaces and tabs) around a field
// value.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if !shortDay(s[0:3]) || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[25] != ' ' || !equalFold(s[26:29], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month, ok2 := monthNumber(s[8:11])
	year, ok3 := digits(s[12:16])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return build(year, month, day, s[17:25])
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(s string) (time.Time, bool) {
	const rest = len(", 06-Nov-94 08:49:37 GMT")
	if len(s) <= rest {
		return time.Time{}, false
	}
	name, r := s[:len(s)-rest], s[len(s)-rest:]
	if !longDay(name) || r[0] != ',' || r[1] != ' ' || r[4] != '-' || r[8] != '-' || r[11] != ' ' ||
		r[20] != ' ' || !equalFold(r[21:24], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(r[2:4])
	month, ok2 := monthNumber(r[5:8])
	yy, ok3 := digits(r[9:11])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	// RFC 9110 section 5.6.7: a two-digit year that appears to be more
	// than 50 years in the future is the most recent past year with the
	// same last two digits.
	cur := time.Now().Year()
	year := cur - cur%100 + yy
	if year > cur+50 {
		year -= 100
	}
	return build(year, month, day, r[12:20])
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994".
func parseASCTime(s string) (time.Time, bool) {
	if !shortDay(s[0:3]) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month, ok1 := monthNumber(s[4:7])
	d := s[8:10]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, ok2 := digits(d)
	year, ok3 := digits(s[20:24])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return build(year, month, day, s[11:19])
}

// build checks and assembles a date and a "hh:mm:ss" time of day, in UTC.
func build(year int, month time.Month, day int, hms string) (time.Time, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(hms[0:2])
	minute, ok2 := digits(hms[3:5])
	sec, ok3 := digits(hms[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 || day < 1 ||
		day > daysIn(year, month) {
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, minute, sec, 0, time.UTC), true
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// digits parses a non-empty run of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var (
	shortDays = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDays  = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	months    = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

func shortDay(s string) bool {
	for _, d := range shortDays {
		if equalFold(s, d) {
			return true
		}
	}
	return false
}

func longDay(s string) bool {
	for _, d := range longDays {
		if equalFold(s, d) {
			return true
		}
	}
	return false
}

func monthNumber(s string) (time.Month, bool) {
	for i, m := range months {
		if equalFold(s, m) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// equalFold compares ASCII strings without regard to case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
