package lambdaevent

import "testing"

func TestMaxBodyIsTheLargestThatFits(t *testing.T) {
	if !Fits(MaxBody) {
		t.Fatalf("MaxBody %d does not fit: %d encoded + %d > %d", MaxBody, Encoded(MaxBody), Overhead, MaxEvent)
	}
	if Fits(MaxBody + 3) {
		t.Fatalf("MaxBody %d is not the largest: %d fits too", MaxBody, MaxBody+3)
	}
	// A body of Lambda's whole 6 MB limit does not fit once base64-encoded.
	if Fits(MaxEvent) {
		t.Fatal("a 6 MB body fits: base64 inflation not counted")
	}
}
