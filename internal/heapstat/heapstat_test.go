package heapstat

import "testing"

var sink []byte

func TestAllocatedCountsAllocations(t *testing.T) {
	if got := Allocated(func() { sink = make([]byte, 1<<20) }); got < 1<<20 {
		t.Fatalf("Allocated: %d bytes for a 1 MiB allocation", got)
	}
	first := true
	got := Steady(func() {
		if first {
			sink = make([]byte, 1<<20) // only the first run allocates
			first = false
		}
	})
	if got >= 1<<20 {
		t.Fatalf("Steady: %d bytes counted from the first run", got)
	}
}
