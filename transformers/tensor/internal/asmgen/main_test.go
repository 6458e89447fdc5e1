package main

import (
	"os"
	"testing"
)

// TestGeneratedUpToDate fails when kernels_amd64.s was edited by hand or not regenerated.
func TestGeneratedUpToDate(t *testing.T) {
	const path = "../../kernels_amd64.s"
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if string(got) != generate() {
		t.Fatalf("%s is stale: run `go run ./internal/asmgen > kernels_amd64.s` in transformers/tensor", path)
	}
}
