package event

import "encoding/binary"

// key is a literal ScanLine expects, with its first 16 bytes as two
// little-endian words (and masks for a shorter literal), so that most
// compares are two loads.
type key struct {
	s              string
	w0, w1, m0, m1 uint64
}

func mkKey(s string) key {
	var b [16]byte
	var m [16]byte
	n := copy(b[:], s)
	for i := range n {
		m[i] = 0xff
	}
	return key{s: s,
		w0: binary.LittleEndian.Uint64(b[:8]), w1: binary.LittleEndian.Uint64(b[8:]),
		m0: binary.LittleEndian.Uint64(m[:8]), m1: binary.LittleEndian.Uint64(m[8:])}
}

// keys are the literals of AppendJSON's layout. The table is built once and
// never changed.
var keys = struct {
	id, eventTime, typ, level, service, host, outcome             key
	action, creds, address, req, res, duration, message, resource key
	details, uuid, name, subType, method, path, query, statusCode key
	bytes, clientDetails, subID, userAgent, traceID               key
	body, bodyTruncated                                           key
}{
	id: mkKey(`{"id":`), eventTime: mkKey(`,"eventTime":`), typ: mkKey(`,"type":`), level: mkKey(`,"level":`),
	service: mkKey(`,"service":`), host: mkKey(`,"host":`), outcome: mkKey(`,"outcome":`),
	action: mkKey(`,"action":`), creds: mkKey(`,"creds":`), address: mkKey(`,"address":`), req: mkKey(`,"req":`),
	res: mkKey(`,"res":`), duration: mkKey(`,"duration_ms":`), message: mkKey(`,"message":`),
	resource: mkKey(`,"resource":`), details: mkKey(`,"details":`),
	uuid: mkKey(`"uuid":`), name: mkKey(`"name":`), subType: mkKey(`"type":`), method: mkKey(`"method":`),
	path: mkKey(`"path":`), query: mkKey(`"query":`), statusCode: mkKey(`"statusCode":`), bytes: mkKey(`"bytes":`),
	clientDetails: mkKey(`"client_details":`), subID: mkKey(`"id":`),
	userAgent: mkKey(`"user_agent":`), traceID: mkKey(`"trace_id":`),
	body: mkKey(`"body":`), bodyTruncated: mkKey(`"body_truncated":`),
}

// key consumes k if the line continues with it.
func (s *lineScanner) key(k *key) bool {
	b := s.b[s.i:]
	if len(b) < 16 {
		return s.lit(k.s) // near the end of the line
	}
	if binary.LittleEndian.Uint64(b)&k.m0 != k.w0 || binary.LittleEndian.Uint64(b[8:])&k.m1 != k.w1 {
		return false
	}
	if len(k.s) > 16 && (len(b) < len(k.s) || string(b[16:len(k.s)]) != k.s[16:]) {
		return false
	}
	s.i += len(k.s)
	return true
}

// char consumes c if the line continues with it.
func (s *lineScanner) char(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}
