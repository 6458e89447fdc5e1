// Command parity runs the reference fixtures of a fixture root through gotransformers and compares
// the results with Python transformers' outputs.
//
//	go run ./cmd/parity [-kinds k1,k2] [-models m1,m2] ROOT
//
// It prints one line per case (OK, FAIL, UNSUPPORTED or DIVERGED with the max abs diff and the
// tolerance), closes with "N passed, M failed" and exits 1 when any case failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/gotransformers/gotransformers/parity"
)

func main() {
	kinds := flag.String("kinds", "", "comma-separated case kinds to run (default: all)")
	models := flag.String("models", "", "comma-separated model folders to run (default: all)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: parity [-kinds k1,k2] [-models m1,m2] ROOT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := parity.Run(ctx, flag.Arg(0), parity.Options{Kinds: split(*kinds), Models: split(*models), Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "parity:", err)
		os.Exit(2)
	}
	if sum.Failed > 0 {
		os.Exit(1)
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
