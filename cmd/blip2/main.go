// Command blip2 runs the BLIP-2 family from the command line, as transformers' Python snippets do:
//
//	blip2 caption  [flags] IMAGE...           one caption per image
//	blip2 vqa      [flags] --question Q IMAGE... one answer per image (prompt "Question: Q Answer:")
//	blip2 features [flags] --kind image|qformer|text [--text T] [--out F.safetensors] [IMAGE...]
//	blip2 inspect  [flags]                    sizes, dtypes, image-token mode, weight-key coverage
//
// --model takes a local model folder or a hub repo id (default Salesforce/blip2-opt-2.7b, resolved
// through the Hugging Face cache shared with Python). IMAGE is a file path or "-" for stdin. Every
// error is printed as one line to stderr with a non-zero exit status: 1 for a failure, 2 for bad
// usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gotransformers/gotransformers/hub"
	"github.com/gotransformers/gotransformers/transformers"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// DefaultModel is the model used when --model is not given.
const DefaultModel = "Salesforce/blip2-opt-2.7b"

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a subcommand reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError marks bad command-line usage (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const topUsage = `usage: blip2 <command> [flags] [IMAGE...]

commands:
  caption   generate a caption per image (optionally continuing --prompt)
  vqa       answer --question about each image
  features  image / Q-Former / text features (printed, or written with --out)
  inspect   parameters and bytes per part, image-token mode, tokenizer, weight-key coverage

IMAGE is a file path or "-" for stdin. Run "blip2 <command> -h" for the flags of a command.
`

// run is the whole program: it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	var err error
	switch cmd := args[0]; cmd {
	case "caption", "vqa":
		err = runGenerate(ctx, e, cmd, args[1:])
	case "features":
		err = runFeatures(ctx, e, args[1:])
	case "inspect":
		err = runInspect(ctx, e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "blip2: unknown command %q\n%s", cmd, topUsage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "blip2 %s: %s\n", args[0], ue.msg)
		return exitUsage
	}
	fmt.Fprintf(stderr, "blip2 %s: %v\n", args[0], err)
	return exitFail
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	model    string
	revision string
	offline  bool
	dtype    string
	json     bool
	cacheDir string
	quiet    bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.model, "model", DefaultModel, "model folder or hub repo id")
	fs.StringVar(&c.revision, "revision", "", "hub revision (branch, tag or commit; default main)")
	fs.BoolVar(&c.offline, "offline", false, "use only the local hub cache (as HF_HUB_OFFLINE=1)")
	fs.StringVar(&c.dtype, "dtype", "", "weight storage dtype: float32 or bfloat16 (default: as stored)")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per line")
	fs.BoolVar(&c.quiet, "quiet", false, "no download progress on stderr (shown only when stderr is a terminal)")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "hub cache folder (default HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub)")
}

// loadOptions turns the common flags into FromPretrained options; hub downloads report their
// progress on stderr when it is a terminal, unless --quiet.
func (c *commonFlags) loadOptions(e *env) ([]transformers.Option, error) {
	var opts []transformers.Option
	if f, ok := e.stderr.(*os.File); ok && !c.quiet && hub.IsTerminal(f) {
		opts = append(opts, transformers.WithProgress(progressPrinter(e.stderr)))
	}
	switch strings.ToLower(c.dtype) {
	case "":
	case "float32", "fp32", "f32":
		opts = append(opts, transformers.WithDType(tensor.F32))
	case "bfloat16", "bf16":
		opts = append(opts, transformers.WithDType(tensor.BF16))
	default:
		return nil, usagef("--dtype %q: want float32 or bfloat16", c.dtype)
	}
	if c.revision != "" {
		opts = append(opts, transformers.WithRevision(c.revision))
	}
	if c.offline {
		opts = append(opts, transformers.WithOffline(true))
	}
	if c.cacheDir != "" {
		opts = append(opts, transformers.WithCacheDir(c.cacheDir))
	}
	return opts, nil
}

// progressPrinter returns a download progress callback that prints at most one line per second per
// file, and one when a file is complete.
func progressPrinter(w io.Writer) func(file string, done, total int64) {
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(file string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		complete := total >= 0 && done >= total
		if !complete && now.Sub(last[file]) < time.Second {
			return
		}
		last[file] = now
		if total >= 0 {
			fmt.Fprintf(w, "blip2: downloading %s: %.1f / %.1f MB\n", file, float64(done)/1e6, float64(total)/1e6)
		} else {
			fmt.Fprintf(w, "blip2: downloading %s: %.1f MB\n", file, float64(done)/1e6)
		}
	}
}

// parseFlags parses args with fs, allowing flags after positional arguments
// ("caption photo.jpg --model M"); "--" ends the flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors through the returned error (not os.Exit) and
// prints its usage to stderr.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("blip2 "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: blip2 %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// pyStrip is Python's str.strip(): Unicode whitespace and the separators \x1c-\x1f.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) })
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
