package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeJSON unmarshals body into v. A refusal is a 400 *Error that says in
// JSON's terms what is wrong with what (e.g. `job 2: Simulation is a number,
// not a string`); Go's own text (type and field names) goes only to Err.
func DecodeJSON(what string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Status: http.StatusBadRequest, Message: what + ": " + DescribeJSON(err), Err: err}
	}
	return nil
}

// DescribeJSON says what a json decoding error found, in the request's terms.
func DescribeJSON(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syn) && strings.HasPrefix(syn.Error(), "unexpected end"):
		return "not valid JSON (it ends early)"
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("%s is %s, not %s", typ.Field, article(typ.Value), jsonKind(typ.Type))
	case errors.As(err, &typ):
		return fmt.Sprintf("is %s, not %s", article(typ.Value), jsonKind(typ.Type))
	default:
		return "not valid JSON"
	}
}

// jsonKind names what JSON value a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number in range"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return "a JSON value"
	}
}

// article turns json's kind word ("number", "string", "array", "object",
// "bool", "number 1e400") into a phrase.
func article(v string) string {
	switch {
	case v == "array" || v == "object":
		return "an " + v
	case v == "bool":
		return "true or false"
	case v == "":
		return "a JSON value"
	case strings.HasPrefix(v, "number "):
		return "the " + v
	default:
		return "a " + v
	}
}

// CheckJSONText refuses JSON a store or a consumer would read differently
// from what the client sent: text that is not UTF-8 (Go would silently
// replace it) and numbers a double cannot hold (1e400 would become +Inf, or
// fail to decode, in every reader). A refusal is a 400 naming what.
func CheckJSONText(what string, b []byte) error {
	if !utf8.Valid(b) {
		return Errorf(http.StatusBadRequest, "%s is not valid UTF-8 text", what)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Message: what + ": " + DescribeJSON(err), Err: err}
		}
		if num, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(num), 64); err != nil {
				return Errorf(http.StatusBadRequest, "%s holds the number %.40s, outside the range of a double", what, num)
			}
		}
	}
}
