package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// poisoned returns a tensor of the shape filled with NaN: a destination whose old contents must
// not leak into the result.
func poisoned(shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(math.NaN())
	}
	return t
}

// sameBits fails unless got and want hold the same float32 bit patterns.
func sameBits(t *testing.T, name string, got, want *Tensor) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) || len(got.Data) != len(want.Data) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
	}
	for i := range want.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got.Data[i], want.Data[i])
		}
	}
}

// The ...Into operations write every element of a destination that holds garbage, and give
// exactly the values of the allocating operations, on every path (GEMV, no-pack, serial and
// shared-A GEMM; attention with few and many query rows, and no keys).
func TestIntoOpsOverwriteDestination(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	r := rand.New(rand.NewPCG(5, 6))
	for _, dt := range []DType{F32, BF16} {
		for _, s := range [][3]int{{1, 37, 53}, {3, 0, 4}, {5, 33, 260}, {65, 257, 31}, {90, 64, 200}, {130, 70, 300}, {400, 40, 700}} {
			m, k, n := s[0], s[1], s[2]
			x, w, b := randT(r, m, k), weightAs(randT(r, n, k), dt), weightAs(randT(r, n), dt)
			for _, bias := range []*Weight{nil, b} {
				dst := poisoned(m, n)
				LinearInto(dst, x, w, bias)
				sameBits(t, fmt.Sprintf("LinearInto %s m=%d k=%d n=%d bias=%v", dt, m, k, n, bias != nil), dst, Linear(x, w, bias))
			}
		}
	}
	x := randT(r, 7, 3, 50)
	ln := poisoned(7, 3, 50)
	w, b := WeightFrom(randT(r, 50)), WeightFrom(randT(r, 50))
	LayerNormInto(ln, x, w, b, 1e-5)
	sameBits(t, "LayerNormInto", ln, LayerNorm(x, w, b, 1e-5))
	inPlace := &Tensor{Shape: x.Shape, Data: slices.Clone(x.Data)}
	LayerNormInto(inPlace, inPlace, w, b, 1e-5)
	sameBits(t, "LayerNormInto in place", inPlace, ln)

	p := poisoned(3, 50, 7)
	PermuteInto(p, x, 1, 2, 0)
	sameBits(t, "PermuteInto", p, Permute(x, 1, 2, 0))

	for _, c := range [][5]int{{1, 2, 1, 9, 8}, {2, 3, 5, 7, 16}, {1, 2, 70, 33, 64}, {1, 1, 3, 0, 4}, {1, 1, 20, 0, 4}} {
		q, k, v := randT(r, c[0], c[1], c[2], c[4]), randT(r, c[0], c[1], c[3], c[4]), randT(r, c[0], c[1], c[3], c[4])
		dst := poisoned(c[0], c[1], c[2], c[4])
		AttentionInto(dst, q, k, v, nil, 0.25)
		sameBits(t, fmt.Sprintf("AttentionInto %v", c), dst, Attention(q, k, v, nil, 0.25))
	}
}

// A destination of the wrong shape, or one that overlaps an input, is a programming error: a
// panic that names the operation.
func TestIntoOpsCheckDestination(t *testing.T) {
	x := New(2, 3)
	for name, f := range map[string]func(){
		"LinearInto":    func() { LinearInto(New(2, 5), x, WeightFrom(New(4, 3)), nil) },
		"LayerNormInto": func() { LayerNormInto(New(3, 2), x, nil, nil, 1e-5) },
		"PermuteInto":   func() { PermuteInto(New(2, 3), x, 1, 0) },
		"AttentionInto": func() { AttentionInto(nil, New(1, 1, 2, 3), New(1, 1, 2, 3), New(1, 1, 2, 3), nil, 1) },
	} {
		func() {
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.Contains(msg, "tensor."+name+": destination") {
					t.Errorf("%s: panic %q", name, msg)
				}
			}()
			f()
		}()
	}
	// a destination that shares memory with an input (other than LayerNormInto's x itself)
	buf := New(40)
	q := From(buf.Data[:6], 1, 1, 2, 3)
	for name, f := range map[string]func(){
		"LinearInto":    func() { LinearInto(From(buf.Data[2:6], 2, 2), From(buf.Data[:6], 2, 3), WeightFrom(New(2, 3)), nil) },
		"LayerNormInto": func() { LayerNormInto(From(buf.Data[1:7], 2, 3), From(buf.Data[:6], 2, 3), nil, nil, 1e-5) },
		"PermuteInto":   func() { PermuteInto(From(buf.Data[3:9], 3, 2), From(buf.Data[:6], 2, 3), 1, 0) },
		"AttentionInto": func() { AttentionInto(From(buf.Data[:6], 1, 1, 2, 3), q, New(1, 1, 2, 3), New(1, 1, 2, 3), nil, 1) },
	} {
		func() {
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.Contains(msg, "tensor."+name+": destination") {
					t.Errorf("%s: panic %q", name, msg)
				}
			}()
			f()
		}()
	}
}

func TestArenaReuse(t *testing.T) {
	var a Arena
	big := a.Take(10, 10)
	small := a.Take(3)
	if len(big.Data) != 100 || len(small.Data) != 3 || !slices.Equal(big.Shape, []int{10, 10}) {
		t.Fatalf("Take: %v (%d), %v (%d)", big.Shape, len(big.Data), small.Shape, len(small.Data))
	}
	a.Release(big, small, nil)
	// best fit: 3 values come from the 3-value buffer, 50 from the 100-value one
	if got := a.Take(3); &got.Data[0] != &small.Data[0] {
		t.Fatal("Take(3) did not reuse the 3-value buffer")
	}
	got := a.Take(5, 10)
	if &got.Data[0] != &big.Data[0] || len(got.Data) != 50 || !slices.Equal(got.Shape, []int{5, 10}) {
		t.Fatalf("Take(5, 10): shape %v, %d values, reused %v", got.Shape, len(got.Data), &got.Data[0] == &big.Data[0])
	}
	// nothing left: a new buffer
	if fresh := a.Take(2); &fresh.Data[0] == &big.Data[0] || &fresh.Data[0] == &small.Data[0] {
		t.Fatal("Take reused a buffer that is in use")
	}
	// the whole capacity comes back, even from a shorter view
	a.Release(got)
	if again := a.Take(100); &again.Data[0] != &big.Data[0] {
		t.Fatal("the capacity of a released view was lost")
	}
	// a double release panics
	a.Release(small)
	func() {
		defer func() {
			if msg := fmt.Sprint(recover()); !strings.Contains(msg, "released twice") {
				t.Errorf("double release: panic %q", msg)
			}
		}()
		a.Release(small)
	}()
	// a nil arena allocates and ignores releases
	var none *Arena
	z := none.Take(4)
	none.Release(z)
	if len(z.Data) != 4 || z.Data[0] != 0 {
		t.Fatalf("nil arena Take: %v", z.Data)
	}
}
