// Command bench runs gotransformers' real-size benchmarks with random weights.
//
//	go run ./cmd/bench gemm                   # GEMM / GEMV kernels (ours alone)
//	go run -tags openblas ./cmd/bench gemm    # ours vs OpenBLAS in the same run
//
// Adding a subcommand: create <name>.go in this folder with a function
// `func register<Name>(r registry)` that does `r["<name>"] = command{...}`, and add one call to it in
// newRegistry below. There is no package-level state: the registry is built in main.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"time"
)

// command is one subcommand: run gets the arguments after the subcommand name.
type command struct {
	help string
	run  func(ctx context.Context, args []string) error
}

// registry maps subcommand names to commands.
type registry map[string]command

// newRegistry lists every subcommand; each file adds its own.
func newRegistry() registry {
	r := registry{}
	registerGemm(r)
	registerLoad(r)
	registerPreprocess(r)
	registerVision(r)
	registerQFormer(r)
	registerCaption(r)
	registerLMShapes(r)
	registerPrefill(r)
	return r
}

func main() {
	r := newRegistry()
	if len(os.Args) < 2 || r[os.Args[1]].run == nil {
		usage(r)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := r[os.Args[1]].run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage(r registry) {
	fmt.Fprintln(os.Stderr, "usage: bench <subcommand> [flags]")
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, r[n].help)
	}
}

// medianTimes measures the functions fs by interleaved samples (so that both see the same machine
// load): each of runs rounds takes one sample of every f, a sample repeating f until at least
// minSample has passed; it returns the median per-call time of each f. Before each sample it waits
// settle (e.g. for the spinning worker threads of a BLAS library to go to sleep). It stops when ctx
// ends.
func medianTimes(ctx context.Context, runs int, minSample, settle time.Duration, fs ...func()) ([]time.Duration, error) {
	samples := make([][]time.Duration, len(fs))
	for _, f := range fs {
		f() // warm up
	}
	for range runs {
		for i, f := range fs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			time.Sleep(settle)
			n := 0
			start := time.Now()
			for {
				f()
				n++
				if el := time.Since(start); el >= minSample {
					samples[i] = append(samples[i], el/time.Duration(n))
					break
				}
			}
		}
	}
	out := make([]time.Duration, len(fs))
	for i, s := range samples {
		sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
		out[i] = s[len(s)/2]
	}
	return out, nil
}
