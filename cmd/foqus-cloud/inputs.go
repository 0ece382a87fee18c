package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// readInputs reads the jobs' inputs: a CSV whose header names each column
// (node.variable, nested as FOQUS flowsheet inputs are; a name without a dot
// stays flat, as SimSinter inputs are), or a JSON array of input objects.
// Numbers become JSON numbers; an empty cell leaves its variable out.
func readInputs(r io.Reader, format string) ([]json.RawMessage, error) {
	switch format {
	case "csv":
		return readCSV(r)
	case "json":
		return readJSONInputs(r)
	}
	return nil, fmt.Errorf("input format %q: want csv or json", format)
}

func readCSV(r io.Reader) ([]json.RawMessage, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("CSV: empty, no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV: %w", err)
	}
	type column struct{ node, name string }
	cols := make([]column, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // a spreadsheet's byte-order mark
		if h == "" {
			return nil, fmt.Errorf("CSV: column %d has no name", i+1)
		}
		if seen[h] {
			return nil, fmt.Errorf("CSV: column %q appears twice", h)
		}
		seen[h] = true
		if node, name, ok := strings.Cut(h, "."); ok && node != "" && name != "" {
			cols[i] = column{node, name}
		} else {
			cols[i] = column{"", h}
		}
	}
	var out []json.RawMessage
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err)
		}
		in := map[string]any{}
		for i, cell := range row {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				continue
			}
			c := cols[i]
			if c.node == "" {
				if _, clash := in[c.name].(map[string]any); clash {
					return nil, fmt.Errorf("CSV line %d: %q is both a variable and a node", line, c.name)
				}
				in[c.name] = cellValue(cell)
				continue
			}
			node, ok := in[c.node].(map[string]any)
			if !ok {
				if _, clash := in[c.node]; clash {
					return nil, fmt.Errorf("CSV line %d: %q is both a variable and a node", line, c.node)
				}
				node = map[string]any{}
				in[c.node] = node
			}
			node[c.name] = cellValue(cell)
		}
		b, _ := json.Marshal(in) // maps of strings, numbers and bools always encode
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("CSV: no rows under the header")
	}
	return out, nil
}

// cellValue is a number when the cell is one, true/false, else the text.
func cellValue(s string) any {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") {
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

func readJSONInputs(r io.Reader) ([]json.RawMessage, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		return nil, errors.New("JSON inputs: want an array of input objects")
	}
	for i, in := range raw {
		if t := bytes.TrimSpace(in); len(t) == 0 || t[0] != '{' {
			return nil, fmt.Errorf("JSON inputs: element %d is not an object", i)
		}
	}
	if len(raw) == 0 {
		return nil, errors.New("JSON inputs: the array is empty")
	}
	return raw, nil
}

// flatten renders a JSON value as columns: object keys joined by dots under
// prefix, array elements by their index; numbers keep their JSON text.
func flatten(prefix string, raw json.RawMessage, out map[string]string) {
	if len(raw) == 0 {
		return
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return
	}
	flattenValue(prefix, v, out)
}

func flattenValue(prefix string, v any, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			flattenValue(join(k), x, out)
		}
	case []any:
		for i, x := range v {
			flattenValue(join(strconv.Itoa(i)), x, out)
		}
	case json.Number:
		out[prefix] = v.String()
	case string:
		out[prefix] = v
	case bool:
		out[prefix] = strconv.FormatBool(v)
	case nil:
		out[prefix] = ""
	}
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
