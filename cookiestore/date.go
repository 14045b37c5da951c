package cookiestore

import "time"

// ParseCookieDate parses the value of an Expires attribute with the
// algorithm of RFC 6265 section 5.1.1, which is deliberately lenient: the
// string is split into tokens at delimiters (HTAB, SP to "/", ";" to "@",
// "[" to "`", "{" to "~"); the first token that looks like hh:mm:ss (one or
// two digits per field, anything non-digit after) is the time, the first
// one- or two-digit token the day of the month, the first token whose first
// three letters name a month (case-insensitively) the month, and the first
// two- to four-digit token the year. Tokens that fit nothing, such as
// weekdays and "GMT", are skipped. A year from 70 to 99 means 19xx and one
// from 0 to 69 means 20xx.
//
// It reports false, meaning the attribute must be ignored, when a part is
// missing, the day is outside 1..31, the year is before 1601, a time field
// is out of range (hour > 23, minute > 59, second > 59), or the date does
// not exist (31 April). The result is in UTC: cookie dates carry no zone.
func ParseCookieDate(s string) (time.Time, bool) {
	var (
		foundTime, foundDay, foundMonth, foundYear bool
		hour, minute, second, day, year            int
		month                                      time.Month
	)
	for i := 0; i < len(s); {
		for i < len(s) && isDateDelimiter(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isDateDelimiter(s[j]) {
			j++
		}
		tok := s[i:j]
		i = j
		if tok == "" {
			continue
		}
		if !foundTime {
			if h, m, sec, ok := parseHMS(tok); ok {
				foundTime, hour, minute, second = true, h, m, sec
				continue
			}
		}
		if !foundDay {
			if v, ok := leadingDigits(tok, 1, 2); ok {
				foundDay, day = true, v
				continue
			}
		}
		if !foundMonth {
			if m, ok := parseMonth(tok); ok {
				foundMonth, month = true, m
				continue
			}
		}
		if !foundYear {
			if v, ok := leadingDigits(tok, 2, 4); ok {
				foundYear, year = true, v
				continue
			}
		}
	}
	if !foundTime || !foundDay || !foundMonth || !foundYear {
		return time.Time{}, false
	}
	switch {
	case year >= 70 && year <= 99:
		year += 1900
	case year >= 0 && year <= 69:
		year += 2000
	}
	if day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, month, day, hour, minute, second, 0, time.UTC)
	if t.Day() != day || t.Month() != month {
		return time.Time{}, false // 31 April and the like: no such date
	}
	return t, true
}

// isDateDelimiter reports whether b is a delimiter of RFC 6265 5.1.1.
func isDateDelimiter(b byte) bool {
	return b == 0x09 ||
		(b >= 0x20 && b <= 0x2F) ||
		(b >= 0x3B && b <= 0x40) ||
		(b >= 0x5B && b <= 0x60) ||
		(b >= 0x7B && b <= 0x7E)
}

// leadingDigits matches the productions 1*2DIGIT / 2*4DIGIT followed by
// ( non-digit *OCTET ): tok must start with min..max digits; whatever
// follows them starts with a non-digit by construction.
func leadingDigits(tok string, min, max int) (int, bool) {
	n, v := 0, 0
	for n < len(tok) && tok[n] >= '0' && tok[n] <= '9' {
		if n == max {
			return 0, false
		}
		v = v*10 + int(tok[n]-'0')
		n++
	}
	if n < min {
		return 0, false
	}
	return v, true
}

// parseHMS matches hms-time ( non-digit *OCTET ), where
// hms-time = time-field ":" time-field ":" time-field and
// time-field = 1*2DIGIT.
func parseHMS(tok string) (h, m, s int, ok bool) {
	var f [3]int
	i := 0
	for k := 0; k < 3; k++ {
		if k > 0 {
			if i >= len(tok) || tok[i] != ':' {
				return 0, 0, 0, false
			}
			i++
		}
		n, v := 0, 0
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			if n == 2 {
				return 0, 0, 0, false
			}
			v = v*10 + int(tok[i]-'0')
			n++
			i++
		}
		if n == 0 {
			return 0, 0, 0, false
		}
		f[k] = v
	}
	return f[0], f[1], f[2], true
}

var monthNames = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// parseMonth matches the month production: the token's first three
// characters name a month, case-insensitively; the rest is ignored.
func parseMonth(tok string) (time.Month, bool) {
	if len(tok) < 3 {
		return 0, false
	}
	var p [3]byte
	for i := 0; i < 3; i++ {
		c := tok[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		p[i] = c
	}
	for i, name := range monthNames {
		if string(p[:]) == name {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}
