package cookiestore

import (
	"testing"
	"time"
)

func TestParseCookieDate(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	apr15 := utc(2017, time.April, 15, 21, 1, 22)
	apr18 := utc(2007, time.April, 18, 22, 50, 12)
	tests := []struct {
		in   string
		want time.Time // zero: invalid
	}{
		// Usual forms.
		{"Thu, 10 Apr 1980 16:33:12 GMT", utc(1980, time.April, 10, 16, 33, 12)},
		{"Thu Apr 10 1980 16:33:12", utc(1980, time.April, 10, 16, 33, 12)},
		{"10 Apr 80 16:33:12", utc(1980, time.April, 10, 16, 33, 12)},
		{"Tue, 18-Oct-2011 07:42:42 GMT", utc(2011, time.October, 18, 7, 42, 42)},
		{"Mon, 10-Dec-2007 17:02:24 GMT", utc(2007, time.December, 10, 17, 2, 24)},
		{"Wed, 09 Dec 2009 16:27:23 GMT", utc(2009, time.December, 9, 16, 27, 23)},
		{"Thursday, 01-Jan-1970 00:00:00 GMT", utc(1970, time.January, 1, 0, 0, 0)},
		{"Mon Dec 10 16:32:30 2007 GMT", utc(2007, time.December, 10, 16, 32, 30)},
		{"Wednesday, 01-Jan-10 00:00:00 GMT", utc(2010, time.January, 1, 0, 0, 0)},
		{"Mon, 10-Dec-07 20:35:03 GMT", utc(2007, time.December, 10, 20, 35, 3)},
		{"Wed, 1 Jan 2020 00:00:00 GMT", utc(2020, time.January, 1, 0, 0, 0)},
		{"Saturday, 8-Dec-2012 21:24:09 GMT", utc(2012, time.December, 8, 21, 24, 9)},
		{"Thu, 31 Dec 23:55:55 2037 GMT", utc(2037, time.December, 31, 23, 55, 55)},
		{"Sun,  9 Dec 2012 13:42:05 GMT", utc(2012, time.December, 9, 13, 42, 5)},
		{"Wed Dec 12 2007 08:44:07 GMT-0500 (EST)", utc(2007, time.December, 12, 8, 44, 7)},
		{"Sun, 1-Jan-1995 00:00:00 GMT", utc(1995, time.January, 1, 0, 0, 0)},
		{"Wednesday, 01-Jan-10 0:0:00 GMT", utc(2010, time.January, 1, 0, 0, 0)},
		{"Thu, 10 Dec 2009 13:57:2 GMT", utc(2009, time.December, 10, 13, 57, 2)},
		{"Sun, 18-Apr-2027 21:06:29 GMT", utc(2027, time.April, 18, 21, 6, 29)},
		// Odd delimiters, garbage tokens, any order.
		{"Thu, 19/Apr\\2007 16:00:00 GMT", utc(2007, time.April, 19, 16, 0, 0)},
		{", 1-Jan-2003 00:00:00 GMT", utc(2003, time.January, 1, 0, 0, 0)},
		{" 1-Jan-2003 00:00:00 GMT", utc(2003, time.January, 1, 0, 0, 0)},
		{"Wed,18-Apr-07 22:50:12 GMT", apr18},
		{"WillyWonka  , 18-Apr-07 22:50:12 GMT", apr18},
		{"WillyWonka  ,  18-apr-07   22:50:12", apr18},
		{"Partyday, 18- April-07 22:50:12", apr18},
		{"Partyday, 18 - Apri-07 22:50:12", apr18},
		{"Wednes, 1-Januar-2003 00:00:00 GMT", utc(2003, time.January, 1, 0, 0, 0)},
		{"Mon, 18-Apr-77 22:50:13 GMT", utc(1977, time.April, 18, 22, 50, 13)},
		{`"Sat, 15-Apr-17\"21:01:22\"GMT"`, apr15},
		{"Sat, 15-Apr-17 21:01:22 GMT-2", apr15},
		{"Sat, 15-Apr-17 21:01:22 GMT BLAH", apr15},
		{"Sat, 15-Apr-17 21:01:22 -0400", apr15},
		{"Sat, 15-Apr-17 21:01:22 (hello there)", apr15},
		{"Sat, 15-Apr-17 21:01:22 11:22:33", apr15}, // first time wins
		{"Sat, 15-Apr-17 ::00 21:01:22", apr15},
		{"Sat, 15-Apr-17 boink:z 21:01:22", apr15},
		{"22:50:12 Thu Apr 18 2007 GMT", apr18},
		{"Thu 22:50:12 Apr 18 2007 GMT", apr18},
		{"Thu Apr 22:50:12 18 2007 GMT", apr18},
		{"Thu Apr 18 2007 GMT 22:50:12", apr18},
		{"15-Sat, Apr-17 21:01:22 GMT", apr15},
		{"15-Sat, Apr 21:01:22 GMT 17", apr15},
		{"15 Apr 21:01:22 2017", apr15},
		{"15 17 Apr 21:01:22", apr15},
		{"Apr 15 17 21:01:22", apr15},
		{"2017 April 15 21:01:22", apr15},
		{"15 April 2017 21:01:22", apr15},
		{"15 APR 2017 21:01:22gmt", apr15},
		{"15 apr 2017 21:01:22", apr15},
		// Two-digit years: 70-99 -> 19xx, 00-69 -> 20xx.
		{"1 Jan 69 00:00:00", utc(2069, time.January, 1, 0, 0, 0)},
		{"1 Jan 70 00:00:00", utc(1970, time.January, 1, 0, 0, 0)},
		{"1 Jan 00 00:00:00", utc(2000, time.January, 1, 0, 0, 0)},
		{"1 Jan 1601 00:00:00", utc(1601, time.January, 1, 0, 0, 0)},
		{"29 Feb 2024 00:00:00", utc(2024, time.February, 29, 0, 0, 0)},
		// Invalid.
		{"Sat, 15-Apr-17 91:22:33 21:01:22", time.Time{}}, // first time is out of range
		{"98 April 17 21:01:22", time.Time{}},             // day 98
		{"Thu, 012-Aug-2008 20:49:07 GMT", time.Time{}},   // 3-digit day is a year; no day
		{"Thu, 12-Aug-31841 20:49:07 GMT", time.Time{}},   // 5-digit year
		{"Thu, 12-Aug-9999999999 20:49:07 GMT", time.Time{}},
		{"Thu, 999999999999-Aug-2007 20:49:07 GMT", time.Time{}},
		{"Thu, 12-Aug-2007 20:61:99999999999 GMT", time.Time{}},
		{"Mon, 01-Jan-2011 00: 00:00 GMT", time.Time{}}, // "00:" and "00:00" are not hms
		{"IAintNoDateFool", time.Time{}},
		{"", time.Time{}},
		{"1 Jan 1600 00:00:00", time.Time{}},  // before 1601
		{"32 Jan 2020 00:00:00", time.Time{}}, // day > 31
		{"0 Jan 2020 00:00:00", time.Time{}},  // day < 1
		{"31 Apr 2020 00:00:00", time.Time{}}, // no such date
		{"29 Feb 2023 00:00:00", time.Time{}},
		{"1 Jan 2020 24:00:00", time.Time{}},
		{"1 Jan 2020 23:60:00", time.Time{}},
		{"1 Jan 2020 23:59:60", time.Time{}},
		{"1 Jan 2020 123:00:00", time.Time{}}, // 3-digit hour
		{"1 Jan 2020 12:00:001", time.Time{}}, // 3-digit second
		{"1 Jan 2020", time.Time{}},           // no time
		{"Jan 2020 12:00:00", time.Time{}},    // no day
		{"1 2020 12:00:00", time.Time{}},      // no month
		{"1 Jan 12:00:00", time.Time{}},       // no year
		{"1 Ja 2020 12:00:00", time.Time{}},   // "Ja" is not a month
	}
	for _, tt := range tests {
		got, ok := ParseCookieDate(tt.in)
		if tt.want.IsZero() {
			if ok {
				t.Errorf("ParseCookieDate(%q) = %v, true; want invalid", tt.in, got)
			}
			continue
		}
		if !ok || !got.Equal(tt.want) {
			t.Errorf("ParseCookieDate(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}
