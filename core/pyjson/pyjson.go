// Package pyjson reads the JSON that Python's json module writes: FOQUS's
// session files and flowsheet outputs hold the tokens NaN, Infinity and
// -Infinity, which encoding/json refuses.
//
// The stack's form of a non-finite number is the JSON string "NaN",
// "Infinity" or "-Infinity": outputs are stored and answered on result pages
// that way. FOQUS reads them back unchanged in meaning, since its variables
// convert every value with their type (NodeVars.setValue calls
// float("Infinity")), and the original stored outputs as strings for the
// same reason (FOQUS #689). Session files are never rewritten: they are
// staged byte for byte and only classified through Standard.
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The tokens Python's json writes for non-finite floats.
var tokens = [][]byte{[]byte("NaN"), []byte("Infinity"), []byte("-Infinity")}

// ErrSyntax: the text is not JSON, even with Python's non-finite tokens.
var ErrSyntax = errors.New("not JSON")

// Standard returns raw with every non-finite token outside strings turned
// into the string of the same name, and whether it changed anything. raw is
// returned as is when it is standard JSON.
func Standard(raw []byte) ([]byte, bool, error) {
	if json.Valid(raw) {
		return raw, false, nil
	}
	out := make([]byte, 0, len(raw)+16)
	changed := false
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(raw) {
					i++
					out = append(out, raw[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			out = append(out, c)
			continue
		}
		if t := tokenAt(raw, i); t != nil {
			out = append(out, '"')
			out = append(out, t...)
			out = append(out, '"')
			i += len(t) - 1
			changed = true
			continue
		}
		out = append(out, c)
	}
	if !changed || !json.Valid(out) {
		return nil, false, ErrSyntax
	}
	return out, true, nil
}

// tokenAt returns the non-finite token that starts at raw[i] as a whole
// value (not part of a longer word such as NaNx), or nil.
func tokenAt(raw []byte, i int) []byte {
	if i > 0 && wordByte(raw[i-1]) {
		return nil
	}
	for _, t := range tokens {
		if bytes.HasPrefix(raw[i:], t) {
			if end := i + len(t); end < len(raw) && wordByte(raw[end]) {
				return nil
			}
			return t
		}
	}
	return nil
}

func wordByte(c byte) bool {
	return c == '_' || c == '.' || c == '+' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Valid reports whether raw is JSON as Python's json reads it.
func Valid(raw []byte) bool {
	_, _, err := Standard(raw)
	return err == nil
}
