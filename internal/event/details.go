package event

import (
	"encoding/json"
	"strconv"
)

// Details builds a details object key by key, in the order given. Strings
// are escaped as the encoder escapes them (a line is always valid UTF-8
// JSON: invalid bytes become U+FFFD). The zero value is an empty builder.
// Every details object trailcar writes itself is made here.
type Details struct{ b []byte }

func (d *Details) key(k string) {
	if len(d.b) == 0 {
		d.b = append(d.b, '{')
	} else {
		d.b = append(d.b, ',')
	}
	d.b = appendString(d.b, k)
	d.b = append(d.b, ':')
}

// String adds a string value.
func (d *Details) String(k, v string) *Details {
	d.key(k)
	d.b = appendString(d.b, v)
	return d
}

// Int adds a number.
func (d *Details) Int(k string, v int64) *Details {
	d.key(k)
	d.b = strconv.AppendInt(d.b, v, 10)
	return d
}

// Bool adds true or false.
func (d *Details) Bool(k string, v bool) *Details {
	d.key(k)
	d.b = strconv.AppendBool(d.b, v)
	return d
}

// JSON adds a value that is valid, compact JSON already (an object made by
// another Details, say).
func (d *Details) JSON(k string, v json.RawMessage) *Details {
	d.key(k)
	d.b = append(d.b, v...)
	return d
}

// Object returns the object, or nil when nothing was added.
func (d *Details) Object() json.RawMessage {
	if len(d.b) == 0 {
		return nil
	}
	return append(d.b, '}')
}
