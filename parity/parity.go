// Package parity runs the reference fixtures (../shared/parity, copied to parity/testdata) through the
// public API and compares the results with what Python transformers produced. FORMAT.md in the fixture
// root is the specification. Every case kind has a handler in kind_<kind>.go; a kind without a handler
// fails. It may import every package of the module; nothing imports it.
package parity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Status is the outcome of one case.
type Status int

const (
	// StatusOK means every output matched within its tolerance (or the expected error occurred).
	StatusOK Status = iota
	// StatusDiverged means we deliberately differ from the reference (a reference bug fixed later
	// upstream); documented in docs/parity.md and pinned by a Go test.
	StatusDiverged
	// StatusFail means a mismatch or an error.
	StatusFail
	// StatusUnsupported means the case kind is not implemented; it counts as failed.
	StatusUnsupported
)

// String returns the label printed by the runner.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusDiverged:
		return "DIVERGED"
	case StatusFail:
		return "FAIL"
	}
	return "UNSUPPORTED"
}

// Result is what a handler returns for one case.
type Result struct {
	Status Status
	// MaxDiff is the largest |got - expected| seen; Tol the tolerance it was held to (of the output
	// with the worst MaxDiff/Tol ratio). Both are zero for exact or JSON comparisons.
	MaxDiff, Tol float64
	// Msg says what failed, or what was compared.
	Msg string
}

// OK returns a passing result with a message.
func OK(format string, args ...any) Result {
	return Result{Status: StatusOK, Msg: fmt.Sprintf(format, args...)}
}

// Fail returns a failing result.
func Fail(format string, args ...any) Result {
	return Result{Status: StatusFail, Msg: fmt.Sprintf(format, args...)}
}

// Unsupported returns an UNSUPPORTED result (counted as failed).
func Unsupported(format string, args ...any) Result {
	return Result{Status: StatusUnsupported, Msg: fmt.Sprintf(format, args...)}
}

// Diverged returns a DIVERGED result: we succeed where the reference raised, on purpose.
func Diverged(format string, args ...any) Result {
	return Result{Status: StatusDiverged, Msg: fmt.Sprintf(format, args...)}
}

// Merge combines two results: the worse status wins, the worse diff/tol ratio is kept, messages join.
func Merge(a, b Result) Result {
	out := a
	if b.Status > out.Status {
		out.Status = b.Status
	}
	if ratio(b) > ratio(a) {
		out.MaxDiff, out.Tol = b.MaxDiff, b.Tol
	}
	switch {
	case a.Msg == "":
		out.Msg = b.Msg
	case b.Msg != "":
		out.Msg = a.Msg + "; " + b.Msg
	}
	return out
}

func ratio(r Result) float64 {
	if r.Tol <= 0 {
		if r.MaxDiff > 0 {
			return math.Inf(1)
		}
		return 0
	}
	return r.MaxDiff / r.Tol
}

// Output is one expected output of a case (cases.json "outputs" entry).
type Output struct {
	Name        string  `json:"name"`
	Tensor      string  `json:"tensor"`
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	Compare     string  `json:"compare"`
	MaxAbs      float64 `json:"max_abs"`
	Atol        float64 `json:"atol"`
	Rtol        float64 `json:"rtol"`
	Transform   string  `json:"transform"`
	IndexTensor string  `json:"index_tensor"`
	FullShape   []int   `json:"full_shape"`
}

// Case is one entry of cases.json. Keys not modelled by fields are in Raw.
type Case struct {
	ID          string                     `json:"id"`
	Kind        string                     `json:"kind"`
	Call        string                     `json:"call"`
	Inputs      map[string]json.RawMessage `json:"inputs"`
	Outputs     []Output                   `json:"outputs"`
	ExpectError string                     `json:"expect_error"`
	Note        string                     `json:"note"`
	Raw         map[string]json.RawMessage `json:"-"`
}

// Get decodes the case's key (any key of its JSON object) into v.
func (c *Case) Get(key string, v any) error {
	raw, ok := c.Raw[key]
	if !ok {
		return fmt.Errorf("case %s: no key %q", c.ID, key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("case %s: key %q: %w", c.ID, key, err)
	}
	return nil
}

// Has reports whether the case's JSON object has key.
func (c *Case) Has(key string) bool { _, ok := c.Raw[key]; return ok }

// Input decodes the input argument name into v.
func (c *Case) Input(name string, v any) error {
	raw, ok := c.Inputs[name]
	if !ok {
		return fmt.Errorf("case %s: no input %q", c.ID, name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("case %s: input %q: %w", c.ID, name, err)
	}
	return nil
}

// CasesFile is a model folder's cases/cases.json.
type CasesFile struct {
	FormatVersion      int                        `json:"format_version"`
	ModelDir           string                     `json:"model_dir"`
	ModelClass         string                     `json:"model_class"`
	Kind               string                     `json:"kind"`
	LanguageModel      string                     `json:"language_model"`
	ImageTokenMode     string                     `json:"image_token_mode"`
	StoredWeightsDType string                     `json:"stored_weights_dtype"`
	Cases              []*Case                    `json:"-"`
	Raw                map[string]json.RawMessage `json:"-"`
}

// ModelEntry is one entry of the root index.json.
type ModelEntry struct {
	ModelDir      string `json:"model_dir"`
	Kind          string `json:"kind"`
	LanguageModel string `json:"language_model"`
	Cases         int    `json:"cases"`
	Description   string `json:"description"`
}

// Env is what a handler gets: the folder, its cases and expected tensors, and a per-folder cache
// for loaded models and processors.
type Env struct {
	// Root is the fixture root (holding index.json and inputs/).
	Root string
	// Dir is the model folder (absolute or relative to the working directory).
	Dir string
	// Inputs is the folder of input images.
	Inputs string
	// Model is the index.json entry of the folder.
	Model ModelEntry
	// File is the parsed cases.json.
	File *CasesFile
	// Expected is cases/expected.safetensors.
	Expected *weights.Safetensors

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	v   any
	err error
}

// Cache returns the value stored under key, computing it with f the first time (errors are cached
// too, so a model that fails to load fails every case that needs it, once).
func (e *Env) Cache(key string, f func() (any, error)) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cache == nil {
		e.cache = map[string]cached{}
	}
	if c, ok := e.cache[key]; ok {
		return c.v, c.err
	}
	v, err := f()
	e.cache[key] = cached{v, err}
	return v, err
}

type tensorRef struct {
	Tensor string `json:"tensor"`
	SameAs string `json:"same_as"`
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
}

func (e *Env) inputRef(c *Case, name string) (tensorRef, error) {
	var ref tensorRef
	if err := c.Input(name, &ref); err != nil {
		return ref, err
	}
	if ref.Tensor == "" {
		ref.Tensor = ref.SameAs
	}
	if ref.Tensor == "" {
		return ref, fmt.Errorf("case %s: input %q names no tensor", c.ID, name)
	}
	return ref, nil
}

// InputTensor reads a float32 tensor input ({"tensor": ...} or {"same_as": ...}).
func (e *Env) InputTensor(c *Case, name string) (*tensor.Tensor, error) {
	ref, err := e.inputRef(c, name)
	if err != nil {
		return nil, err
	}
	return e.ExpectedTensor(ref.Tensor)
}

// InputInt64 reads an int64 tensor input with its shape.
func (e *Env) InputInt64(c *Case, name string) (*IntTensor, error) {
	ref, err := e.inputRef(c, name)
	if err != nil {
		return nil, err
	}
	return e.ExpectedInt64(ref.Tensor)
}

// InputIDs reads a 2-D int64 tensor input as rows (input_ids, attention_mask, labels).
func (e *Env) InputIDs(c *Case, name string) ([][]int, error) {
	t, err := e.InputInt64(c, name)
	if err != nil {
		return nil, err
	}
	return t.Rows()
}

// HasInput reports whether the case has the input argument name.
func (c *Case) HasInput(name string) bool { _, ok := c.Inputs[name]; return ok }

// ExpectedTensor reads a float32 tensor of expected.safetensors.
func (e *Env) ExpectedTensor(name string) (*tensor.Tensor, error) {
	t, err := e.Expected.Float32(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(e.Dir, "cases", "expected.safetensors"), err)
	}
	return t, nil
}

// ExpectedInt64 reads an int64 tensor of expected.safetensors.
func (e *Env) ExpectedInt64(name string) (*IntTensor, error) {
	d, shape, err := e.Expected.Int64(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(e.Dir, "cases", "expected.safetensors"), err)
	}
	return &IntTensor{Shape: shape, Data: d}, nil
}

// IntTensor is an int64 tensor (ids, masks, labels).
type IntTensor struct {
	Shape []int
	Data  []int64
}

// IDs builds an IntTensor from rows of equal length.
func IDs(rows [][]int) *IntTensor {
	t := &IntTensor{Shape: []int{len(rows), 0}}
	if len(rows) > 0 {
		t.Shape[1] = len(rows[0])
	}
	for _, r := range rows {
		for _, v := range r {
			t.Data = append(t.Data, int64(v))
		}
	}
	return t
}

// Rows returns a 2-D int tensor as rows.
func (t *IntTensor) Rows() ([][]int, error) {
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("want a 2-D int tensor, got shape %v", t.Shape)
	}
	rows := make([][]int, t.Shape[0])
	for i := range rows {
		rows[i] = make([]int, t.Shape[1])
		for j := range rows[i] {
			rows[i][j] = int(t.Data[i*t.Shape[1]+j])
		}
	}
	return rows, nil
}

// CompareOutputs compares got (output name -> *tensor.Tensor, *IntTensor or [][]int) with every
// expected output of the case and merges the results. A missing output fails.
func (e *Env) CompareOutputs(c *Case, got map[string]any) Result {
	if len(c.Outputs) == 0 {
		return Fail("case has no outputs to compare")
	}
	res := Result{Status: StatusOK}
	for _, out := range c.Outputs {
		res = Merge(res, e.CompareOutput(out, got))
	}
	if res.Status == StatusOK && res.Msg == "" {
		res.Msg = fmt.Sprintf("%d outputs", len(c.Outputs))
	}
	return res
}

// CompareOutput compares one expected output with got[name], where name is the output's name with
// any "@transform" suffix removed (the full tensor is given; the transform is applied here).
func (e *Env) CompareOutput(out Output, got map[string]any) Result {
	base := out.Name
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	v, ok := got[base]
	if !ok || v == nil {
		return Fail("%s: no output produced", out.Name)
	}
	switch g := v.(type) {
	case *tensor.Tensor:
		return e.CompareFloat(out, g)
	case *IntTensor:
		return e.CompareInt(out, g)
	case [][]int:
		return e.CompareInt(out, IDs(g))
	}
	return Fail("%s: unsupported output type %T", out.Name, v)
}

// CompareFloat applies out's transform to got and compares it with the expected tensor
// (|got-exp| <= atol + rtol*|exp| element-wise).
func (e *Env) CompareFloat(out Output, got *tensor.Tensor) Result {
	var err error
	if got, err = e.transform(out, got); err != nil {
		return Fail("%s: %v", out.Name, err)
	}
	exp, err := e.ExpectedTensor(out.Tensor)
	if err != nil {
		return Fail("%s: %v", out.Name, err)
	}
	if !equalShape(got.Shape, exp.Shape) {
		return Fail("%s: shape %v, want %v", out.Name, got.Shape, exp.Shape)
	}
	r := Result{Status: StatusOK, Tol: out.Atol}
	bad := 0
	for i, x := range exp.Data {
		g := got.Data[i]
		d := math.Abs(float64(g) - float64(x))
		if math.IsNaN(float64(g)) != math.IsNaN(float64(x)) {
			d = math.Inf(1)
		} else if math.IsNaN(float64(g)) {
			d = 0
		}
		if d > r.MaxDiff {
			r.MaxDiff = d
		}
		if d > out.Atol+out.Rtol*math.Abs(float64(x)) {
			bad++
		}
	}
	if bad > 0 {
		r.Status = StatusFail
		r.Msg = fmt.Sprintf("%s: %d of %d elements off", out.Name, bad, len(exp.Data))
	}
	return r
}

// CompareInt compares an int64 output exactly.
func (e *Env) CompareInt(out Output, got *IntTensor) Result {
	exp, err := e.ExpectedInt64(out.Tensor)
	if err != nil {
		return Fail("%s: %v", out.Name, err)
	}
	if !equalShape(got.Shape, exp.Shape) {
		return Fail("%s: shape %v, want %v (got %v, want %v)", out.Name, got.Shape, exp.Shape, clip(got.Data), clip(exp.Data))
	}
	for i := range exp.Data {
		if got.Data[i] != exp.Data[i] {
			return Fail("%s: element %d is %d, want %d (got %v, want %v)", out.Name, i, got.Data[i], exp.Data[i], clip(got.Data), clip(exp.Data))
		}
	}
	return Result{Status: StatusOK}
}

func clip(d []int64) []int64 {
	if len(d) > 40 {
		return d[:40]
	}
	return d
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// transform applies gather_last_dim / logsumexp_last_dim (FORMAT.md "Reduced logits").
func (e *Env) transform(out Output, got *tensor.Tensor) (*tensor.Tensor, error) {
	if out.Transform == "" {
		return got, nil
	}
	if len(out.FullShape) > 0 && !equalShape(got.Shape, out.FullShape) {
		return nil, fmt.Errorf("full shape %v, want %v", got.Shape, out.FullShape)
	}
	last := got.Shape[len(got.Shape)-1]
	rows := got.Numel() / max(last, 1)
	lead := got.Shape[:len(got.Shape)-1]
	switch out.Transform {
	case "gather_last_dim":
		name := out.IndexTensor
		if name == "" {
			name = "vocab_gather_index"
		}
		idx, err := e.ExpectedInt64(name)
		if err != nil {
			return nil, err
		}
		res := tensor.New(append(append([]int(nil), lead...), len(idx.Data))...)
		for r := 0; r < rows; r++ {
			src := got.Data[r*last : (r+1)*last]
			for j, k := range idx.Data {
				if k < 0 || int(k) >= last {
					return nil, fmt.Errorf("gather index %d out of range %d", k, last)
				}
				res.Data[r*len(idx.Data)+j] = src[k]
			}
		}
		return res, nil
	case "logsumexp_last_dim":
		res := tensor.New(lead...)
		for r := 0; r < rows; r++ {
			src := got.Data[r*last : (r+1)*last]
			m := math.Inf(-1)
			for _, v := range src {
				m = math.Max(m, float64(v))
			}
			s := 0.0
			for _, v := range src {
				s += math.Exp(float64(v) - m)
			}
			res.Data[r] = float32(m + math.Log(s))
		}
		return res, nil
	}
	return nil, fmt.Errorf("unknown transform %q", out.Transform)
}

// ErrorCase judges a case that carries expect_error: our error passes; success passes as DIVERGED
// only when divergedNote explains the deliberate fix (documented in docs/parity.md), else fails.
func ErrorCase(c *Case, err error, divergedNote string) Result {
	if err != nil {
		return OK("error as expected (reference: %s; ours: %v)", c.ExpectError, err)
	}
	if divergedNote != "" {
		return Diverged("%s (reference raised %s)", divergedNote, c.ExpectError)
	}
	return Fail("reference raised %s, we succeeded", c.ExpectError)
}

// Handler runs one case.
type Handler func(ctx context.Context, env *Env, c *Case) Result

// Handlers returns the handler of every case kind FORMAT.md lists.
func Handlers() map[string]Handler {
	return map[string]Handler{
		"image_processor":                runImageProcessor,
		"processor":                      runProcessor,
		"tokenizer":                      runTokenizer,
		"config":                         runConfig,
		"weight_keys":                    runWeightKeys,
		"vision_model":                   runVisionModel,
		"blip2_model":                    runBlip2Model,
		"conditional_generation_forward": runConditionalGenerationForward,
		"generate":                       runGenerate,
		"lm_forward":                     runLMForward,
		"end_to_end":                     runEndToEnd,
	}
}

// Options filter and direct a run.
type Options struct {
	// Kinds and Models restrict the run (empty: all).
	Kinds, Models []string
	// Out receives one line per case and the closing lines (nil: discarded).
	Out io.Writer
}

// CaseResult is the outcome of one case of a run.
type CaseResult struct {
	Model, ID, Kind string
	Result
	Elapsed time.Duration
}

// Summary is the outcome of a run.
type Summary struct {
	Passed, Failed, Diverged, Unsupported int
	Cases                                 []CaseResult
}

// LoadIndex reads ROOT/index.json.
func LoadIndex(root string) ([]ModelEntry, error) {
	p := filepath.Join(root, "index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("parity: %w", err)
	}
	var idx struct {
		Models []ModelEntry `json:"models"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parity: %s: %w", p, err)
	}
	if len(idx.Models) == 0 {
		return nil, fmt.Errorf("parity: %s: field \"models\" is empty", p)
	}
	return idx.Models, nil
}

// LoadCases reads DIR/cases/cases.json.
func LoadCases(dir string) (*CasesFile, error) {
	p := filepath.Join(dir, "cases", "cases.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("parity: %w", err)
	}
	var f CasesFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parity: %s: %w", p, err)
	}
	if err := json.Unmarshal(b, &f.Raw); err != nil {
		return nil, fmt.Errorf("parity: %s: %w", p, err)
	}
	var raws []map[string]json.RawMessage
	if err := json.Unmarshal(f.Raw["cases"], &raws); err != nil {
		return nil, fmt.Errorf("parity: %s: field \"cases\": %w", p, err)
	}
	seen := map[string]bool{}
	for i, r := range raws {
		var c Case
		b, _ := json.Marshal(r)
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("parity: %s: cases[%d]: %w", p, i, err)
		}
		if c.ID == "" || c.Kind == "" {
			return nil, fmt.Errorf("parity: %s: cases[%d]: missing id or kind", p, i)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("parity: %s: duplicate case id %q", p, c.ID)
		}
		seen[c.ID] = true
		c.Raw = r
		f.Cases = append(f.Cases, &c)
	}
	return &f, nil
}

// Run runs every case of every model folder of root/index.json (filtered by opts) and prints one line
// per case and the closing line "N passed, M failed". The error is for an unreadable fixture root;
// case failures are in the summary.
func Run(ctx context.Context, root string, opts Options) (*Summary, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	models, err := LoadIndex(root)
	if err != nil {
		return nil, err
	}
	handlers := Handlers()
	sum := &Summary{}
	for _, m := range models {
		if len(opts.Models) > 0 && !contains(opts.Models, m.ModelDir) {
			continue
		}
		dir := filepath.Join(root, m.ModelDir)
		env := &Env{Root: root, Dir: dir, Inputs: filepath.Join(root, "inputs"), Model: m}
		results := runFolder(ctx, env, handlers, opts)
		for _, r := range results {
			sum.add(r)
			fmt.Fprintf(out, "%s\n", r.line())
		}
		if env.Expected != nil {
			env.Expected.Close()
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	fmt.Fprintf(out, "%d diverged (deliberate, documented in docs/parity.md); %d of the failed unsupported\n", sum.Diverged, sum.Unsupported)
	return sum, nil
}

func (s *Summary) add(r CaseResult) {
	s.Cases = append(s.Cases, r)
	switch r.Status {
	case StatusOK:
		s.Passed++
	case StatusDiverged:
		s.Diverged++
	case StatusUnsupported:
		s.Unsupported++
		s.Failed++
	default:
		s.Failed++
	}
}

func (r CaseResult) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-11s %s %s", r.Status, r.Model, r.ID)
	if r.Tol > 0 || r.MaxDiff > 0 {
		fmt.Fprintf(&b, "  max_abs_diff=%.3g tol=%.3g", r.MaxDiff, r.Tol)
	}
	if r.Msg != "" {
		msg := r.Msg
		if len(msg) > 400 {
			msg = msg[:400] + "..."
		}
		fmt.Fprintf(&b, "  (%s)", msg)
	}
	return b.String()
}

func runFolder(ctx context.Context, env *Env, handlers map[string]Handler, opts Options) []CaseResult {
	fail := func(msg string) []CaseResult {
		return []CaseResult{{Model: env.Model.ModelDir, ID: "(folder)", Kind: "", Result: Fail("%s", msg)}}
	}
	f, err := LoadCases(env.Dir)
	if err != nil {
		return fail(err.Error())
	}
	env.File = f
	exp, err := weights.OpenSafetensors(filepath.Join(env.Dir, "cases", "expected.safetensors"))
	if err != nil {
		return fail(err.Error())
	}
	env.Expected = exp
	var res []CaseResult
	for _, c := range f.Cases {
		if len(opts.Kinds) > 0 && !contains(opts.Kinds, c.Kind) {
			continue
		}
		start := time.Now()
		var r Result
		if h, ok := handlers[c.Kind]; !ok {
			r = Fail("unknown case kind %q", c.Kind)
		} else {
			r = safeRun(ctx, h, env, c)
		}
		res = append(res, CaseResult{Model: env.Model.ModelDir, ID: c.ID, Kind: c.Kind, Result: r, Elapsed: time.Since(start)})
	}
	return res
}

func safeRun(ctx context.Context, h Handler, env *Env, c *Case) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Fail("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return h(ctx, env, c)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// KindsInFormat returns the case kinds listed in the "Case kinds" table of FORMAT.md.
func KindsInFormat(formatPath string) ([]string, error) {
	b, err := os.ReadFile(formatPath)
	if err != nil {
		return nil, fmt.Errorf("parity: %w", err)
	}
	text := string(b)
	i := strings.Index(text, "## Case kinds")
	if i < 0 {
		return nil, errors.New("parity: FORMAT.md has no \"## Case kinds\" section")
	}
	text = text[i:]
	if j := strings.Index(text[3:], "\n## "); j >= 0 {
		text = text[:j+3]
	}
	var kinds []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		rest := line[3:]
		k := strings.IndexByte(rest, '`')
		if k > 0 {
			kinds = append(kinds, rest[:k])
		}
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		return nil, errors.New("parity: FORMAT.md lists no case kinds")
	}
	return kinds, nil
}
