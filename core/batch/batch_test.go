package batch

import (
	"errors"
	"strings"
	"testing"
)

func sizes(batches [][]int) (counts, totals []int) {
	for _, b := range batches {
		t := 0
		for _, n := range b {
			t += n
		}
		counts, totals = append(counts, len(b)), append(totals, t)
	}
	return counts, totals
}

func id(n int) int { return n }

// Ten jobs of 30 KB are 300 KB: over the 256 KiB of one PublishBatch, so
// splitting by count alone (one batch of 10) would be refused every time.
func TestTenThirtyKBMessagesNeedTwoBatches(t *testing.T) {
	items := make([]int, 10)
	for i := range items {
		items[i] = 30 << 10
	}
	got, err := Split(items, id, SNSPublish)
	if err != nil {
		t.Fatal(err)
	}
	counts, totals := sizes(got)
	if len(got) != 2 || counts[0] != 8 || counts[1] != 2 {
		t.Fatalf("batches of %v entries, want [8 2]", counts)
	}
	for i, n := range totals {
		if n > SNSPublish.Bytes {
			t.Errorf("batch %d is %d bytes, over %d", i, n, SNSPublish.Bytes)
		}
	}
	t.Logf("10 x 30 KiB: batches of %v entries, %v bytes (largest %d of %d)", counts, totals, max(totals[0], totals[1]), SNSPublish.Bytes)
}

func TestCountLimitAndOrder(t *testing.T) {
	items := make([]int, 25)
	for i := range items {
		items[i] = i + 1
	}
	got, err := Split(items, id, SNSPublish)
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := sizes(got)
	if len(counts) != 3 || counts[0] != 10 || counts[1] != 10 || counts[2] != 5 {
		t.Fatalf("batches of %v, want [10 10 5]", counts)
	}
	next := 1
	for _, b := range got {
		for _, n := range b {
			if n != next {
				t.Fatalf("item %d where %d was due: order lost", n, next)
			}
			next++
		}
	}
}

func TestExactFitAndEmpty(t *testing.T) {
	got, err := Split([]int{128 << 10, 128 << 10, 1}, id, SNSPublish)
	if err != nil {
		t.Fatal(err)
	}
	if counts, _ := sizes(got); len(counts) != 2 || counts[0] != 2 {
		t.Fatalf("batches of %v, want [2 1]: two halves fill 256 KiB exactly", counts)
	}
	if got, err := Split(nil, id, SNSPublish); err != nil || len(got) != 0 {
		t.Fatalf("no items: %v %v", got, err)
	}
}

func TestAnOversizedEntryFails(t *testing.T) {
	_, err := Split([]int{10, SNSPublish.Bytes + 1}, id, SNSPublish)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Index != 1 || tl.Size != SNSPublish.Bytes+1 {
		t.Fatalf("err %v, want a TooLargeError for item 1", err)
	}
	if !strings.Contains(err.Error(), "message 1 is 262145 bytes") {
		t.Errorf("message %q", err)
	}
}

func TestMessageSizeCountsAttributes(t *testing.T) {
	if got := MessageSize("abcd", map[string]string{"event": "job.submit"}); got != 4+5+6+10 {
		t.Errorf("size %d, want body 4 + name 5 + type 6 + value 10", got)
	}
}
