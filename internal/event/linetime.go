package event

import "time"

// idOffset is where the id value starts in an encoded line.
const idOffset = len(`{"id":"`)

// LineTime returns the eventTime text of an encoded line, read at its fixed
// place (TimeOffset), if the line starts as AppendJSON writes it and the
// text is a valid time. Text order of such times is their time order.
func LineTime(line []byte) ([]byte, bool) {
	if len(line) < TimeOffset+TimeLen+1 || string(line[:idOffset]) != `{"id":"` ||
		string(line[idOffset+IDLen:TimeOffset]) != `","eventTime":"` || line[TimeOffset+TimeLen] != '"' {
		return nil, false
	}
	t := line[TimeOffset : TimeOffset+TimeLen]
	return t, ValidTimeText(t)
}

// LineID returns the id of an encoded line, read at its fixed place, if the
// line starts as AppendJSON writes it.
func LineID(line []byte) ([]byte, bool) {
	if len(line) < TimeOffset || string(line[:idOffset]) != `{"id":"` ||
		string(line[idOffset+IDLen:TimeOffset]) != `","eventTime":"` {
		return nil, false
	}
	id := line[idOffset : idOffset+IDLen]
	return id, validIDBytes(id)
}

// ValidTimeText reports whether t is a time as AppendTime writes it
// (2006-01-02T15:04:05.000000Z) that time.Parse accepts.
func ValidTimeText(t []byte) bool {
	if len(t) != TimeLen || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
		t[16] != ':' || t[19] != '.' || t[26] != 'Z' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25} {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range t[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return false
	}
	return num(11, 2) < 24 && num(14, 2) < 60 && num(17, 2) < 60
}

func daysIn(month, year int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - (month-1)%7%2
}

// TimeText returns the text AppendTime writes for the first microsecond
// at or after t: for an event time e (whole microseconds),
// e >= t exactly when FormatTime(e) >= TimeText(t). Times past year 9999
// give a text above every valid one.
func TimeText(t time.Time) string {
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	if c.UTC().Year() > 9999 {
		return "9999-99"
	}
	return FormatTime(c)
}
