//go:build openblas

package openblas

import "testing"

func TestSgemm(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6} // [2, 3]
	b := []float32{1, 0, 1, 0, 1, 0} // [2, 3] (NT) -> rows (1,0,1), (0,1,0)
	c := make([]float32, 4)
	if err := SgemmNT(c, a, b, 2, 2, 3); err != nil {
		t.Fatal(err)
	}
	want := []float32{4, 2, 10, 5}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("SgemmNT %v, want %v", c, want)
		}
	}
	y := make([]float32, 2)
	if err := Sgemv(y, a, []float32{1, 1, 1}, 2, 3); err != nil || y[0] != 6 || y[1] != 15 {
		t.Fatalf("Sgemv %v %v", y, err)
	}
}
