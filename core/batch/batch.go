// Package batch splits entries into AWS batch calls that respect both limits
// of SNS PublishBatch and SQS SendMessageBatch: at most 10 entries, and at
// most 256 KiB for the whole request (every message with its attributes).
// A split by count alone fails forever once ten messages exceed 256 KiB.
package batch

import "fmt"

// Limits of one batch call.
type Limits struct {
	Entries int // entries per call
	Bytes   int // aggregate size of the entries of one call
}

// AWS's limits for SNS PublishBatch and SQS SendMessageBatch (the same).
var (
	SNSPublish = Limits{Entries: 10, Bytes: 256 << 10}
	SQSSend    = Limits{Entries: 10, Bytes: 256 << 10}
)

// TooLargeError is an entry that alone exceeds the byte limit of a call.
type TooLargeError struct {
	Index, Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("message %d is %d bytes with its attributes, over the %d one request carries", e.Index, e.Size, e.Limit)
}

// MessageSize is how AWS counts a message against the limits: the body plus,
// per attribute, its name, data type and value.
func MessageSize(body string, attrs map[string]string) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// Split cuts items, in order, into batches of at most l.Entries items whose
// sizes sum to at most l.Bytes. It fails on an item that fits no batch.
func Split[T any](items []T, size func(T) int, l Limits) ([][]T, error) {
	var out [][]T
	start, bytes := 0, 0
	for i, it := range items {
		n := size(it)
		if n > l.Bytes {
			return nil, &TooLargeError{Index: i, Size: n, Limit: l.Bytes}
		}
		if i > start && (i-start == l.Entries || bytes+n > l.Bytes) {
			out = append(out, items[start:i:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	if start < len(items) {
		out = append(out, items[start:len(items):len(items)])
	}
	return out, nil
}
