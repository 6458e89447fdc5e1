package weights

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// KeyInfo describes one key a module tree asked a Binder for.
type KeyInfo struct {
	// Name is the full checkpoint key ("vision_model.encoder.layers.3.self_attn.qkv.weight").
	Name string
	// Shape is the shape the module asked for.
	Shape []int
	// DType is the storage dtype of the bound weight (or of the placeholder).
	DType tensor.DType
	// TiedTo is the key whose parameter this one shares (Binder.Tied), "" when untied.
	TiedTo string
	// Source is the file the weight was read from ("" when not read from a file).
	Source string
	// Loaded reports whether the weight was bound to checkpoint data (false for missing, mis-shaped,
	// shape-only and tied-without-key entries).
	Loaded bool
}

// MisShaped is a key present in the checkpoint with another shape than the model's.
type MisShaped struct {
	Name      string
	Want, Got []int
	// GotDType is set when the checkpoint's tensor is not a floating weight (e.g. "I64").
	GotDType string
	Source   string
}

// SourcedKey is a checkpoint key with the file that holds it.
type SourcedKey struct {
	Name, Source string
}

// KeysError lists everything Binder.Finish found wrong; it wraps ErrKeys. It mirrors the
// missing_keys / unexpected_keys / mismatched_keys that transformers' from_pretrained reports.
type KeysError struct {
	Missing    []string
	Unexpected []SourcedKey
	MisShaped  []MisShaped
	// Misuse lists binder misuse by the model code (a key asked twice with two shapes, a tie to a
	// nil weight).
	Misuse []string
	// Dir is the checkpoint folder (or "" for in-memory state dicts), for the message.
	Dir string
}

// Error lists every problem, one per line.
func (e *KeysError) Error() string {
	var b strings.Builder
	where := e.Dir
	if where == "" {
		where = "state dict"
	}
	fmt.Fprintf(&b, "weights: %s does not match the model: %d missing, %d unexpected, %d mis-shaped keys",
		where, len(e.Missing), len(e.Unexpected), len(e.MisShaped))
	for _, p := range e.Misuse {
		fmt.Fprintf(&b, "\n  binder misuse: %s", p)
	}
	for _, k := range e.Missing {
		fmt.Fprintf(&b, "\n  missing: %s", k)
	}
	for _, k := range e.Unexpected {
		fmt.Fprintf(&b, "\n  unexpected: %s (in %s)", k.Name, orMemory(k.Source))
	}
	for _, k := range e.MisShaped {
		if k.GotDType != "" {
			fmt.Fprintf(&b, "\n  mis-typed: %s: model wants a float weight %v, %s has %s %v", k.Name, k.Want, orMemory(k.Source), k.GotDType, k.Got)
			continue
		}
		fmt.Fprintf(&b, "\n  mis-shaped: %s: model wants %v, %s has %v", k.Name, k.Want, orMemory(k.Source), k.Got)
	}
	return b.String()
}

// Unwrap returns ErrKeys.
func (e *KeysError) Unwrap() error { return ErrKeys }

func orMemory(s string) string {
	if s == "" {
		return "memory"
	}
	return s
}

// binderState is shared by a root Binder and all its children.
type binderState struct {
	sd        *StateDict
	keys      []KeyInfo
	asked     map[string]int // key -> index in keys
	weights   map[string]*tensor.Weight
	names     map[*tensor.Weight]string
	skipped   map[string]bool
	missing   []string
	misShaped []MisShaped
	problems  []string // misuse (e.g. Tied to an unknown weight)
}

// Binder hands out weights by checkpoint key while a module tree is built, like candle's VarBuilder:
// keys are formed from prefixes (b.Pp("encoder").Pp("layers").Pp(3).Weight("weight", d, d)). It never
// fails during construction: a missing or mis-shaped key gets a shape-only placeholder and is recorded;
// Finish reports them all at once, with the keys of the checkpoint nobody asked for.
//
// A Binder (with its children) must be used from one goroutine at a time. Models built from it are
// read-only afterwards and may be shared between goroutines.
type Binder struct {
	st      *binderState
	prefix  string
	dtype   tensor.DType
	convert bool
	approx  bool // WithApproxBF16Dot
}

// BinderOption configures NewBinder / NewShapeBinder.
type BinderOption func(*Binder)

// WithDType converts every floating weight to dtype at bind time (once per key; torch_dtype= in
// from_pretrained). Without it weights keep their checkpoint dtype (zero-copy). Shape-only binders
// report this dtype for their placeholders.
func WithDType(d tensor.DType) BinderOption {
	return func(b *Binder) { b.dtype, b.convert = d, true }
}

// WithApproxBF16Dot sets tensor.Weight.ApproxBF16Dot on every bf16 weight the binder binds to
// checkpoint data, whether stored as bf16 or converted to it by WithDType (transformers'
// WithApproxBF16Dot): one-row Linear then uses the approximate VDPBF16PS kernel on AVX512_BF16
// CPUs. The flag goes on a copy of the state dict's Weight header (the data stays shared), so the
// state dict's own weights are left as they are. Weights of other dtypes and placeholders are not
// marked.
func WithApproxBF16Dot() BinderOption {
	return func(b *Binder) { b.approx = true }
}

// NewBinder returns a binder over a state dict.
func NewBinder(sd *StateDict, opts ...BinderOption) *Binder {
	b := &Binder{st: &binderState{
		sd:      sd,
		asked:   map[string]int{},
		weights: map[string]*tensor.Weight{},
		names:   map[*tensor.Weight]string{},
		skipped: map[string]bool{},
	}}
	for _, o := range opts {
		o(b)
	}
	return b
}

// NewShapeBinder returns a binder without a state dict: every weight is a shape-only placeholder
// (no memory), nothing is reported missing. It builds any model tree in milliseconds to list its keys.
func NewShapeBinder(opts ...BinderOption) *Binder { return NewBinder(nil, opts...) }

// Pp returns a child binder whose keys are prefixed with name (a string or an integer index).
func (b *Binder) Pp(name any) *Binder {
	var s string
	switch v := name.(type) {
	case string:
		s = v
	case int:
		s = strconv.Itoa(v)
	case fmt.Stringer:
		s = v.String()
	default:
		s = fmt.Sprint(v)
	}
	c := *b
	c.prefix = b.key(s)
	return &c
}

// WithDType returns a child binder with the same prefix that converts to d (for modules kept in
// another precision, like transformers' _keep_in_fp32_modules).
func (b *Binder) WithDType(d tensor.DType) *Binder {
	c := *b
	c.dtype, c.convert = d, true
	return &c
}

// KeepDType returns a child binder with the same prefix that does not convert weights.
func (b *Binder) KeepDType() *Binder {
	c := *b
	c.convert = false
	return &c
}

// Prefix returns the binder's key prefix ("" at the root).
func (b *Binder) Prefix() string { return b.prefix }

// ShapeOnly reports whether the binder hands out placeholders only (no state dict).
func (b *Binder) ShapeOnly() bool { return b.st.sd == nil }

func (b *Binder) key(name string) string {
	switch {
	case b.prefix == "":
		return name
	case name == "":
		return b.prefix
	}
	return b.prefix + "." + name
}

func (b *Binder) placeholder(shape []int) *tensor.Weight {
	dt := tensor.F32
	if b.convert {
		dt = b.dtype
	}
	return &tensor.Weight{Shape: append([]int{}, shape...), DType: dt}
}

// Has reports whether the checkpoint holds name under this prefix (always false for shape binders).
func (b *Binder) Has(name string) bool {
	if b.st.sd == nil {
		return false
	}
	return b.st.sd.Has(b.key(name))
}

// Skip marks a checkpoint key as consumed without binding it (e.g. buffers the port recomputes, the
// counterpart of _keys_to_ignore_on_load_unexpected), so Finish does not report it as unexpected.
func (b *Binder) Skip(name string) { b.st.skipped[b.key(name)] = true }

// Weight returns the weight stored under prefix.name, which must have the given shape. A missing or
// mis-shaped key is recorded for Finish and a shape-only placeholder returned. Asking for the same
// key twice returns the same weight.
func (b *Binder) Weight(name string, shape ...int) *tensor.Weight {
	return b.bind(b.key(name), shape, true)
}

// Optional returns the weight under prefix.name if the checkpoint holds it (checked against shape as
// Weight does), else nil without recording it as missing (shape binders return a placeholder).
func (b *Binder) Optional(name string, shape ...int) *tensor.Weight {
	full := b.key(name)
	if b.st.sd != nil && !b.st.sd.Has(full) {
		return nil
	}
	return b.bind(full, shape, true)
}

func (b *Binder) bind(full string, shape []int, record bool) *tensor.Weight {
	st := b.st
	if i, ok := st.asked[full]; ok {
		w := st.weights[full]
		if !slices.Equal(st.keys[i].Shape, shape) {
			st.problems = append(st.problems, fmt.Sprintf("%s asked twice with shapes %v and %v", full, st.keys[i].Shape, shape))
		}
		return w
	}
	ki := KeyInfo{Name: full, Shape: append([]int{}, shape...)}
	var w *tensor.Weight
	if st.sd == nil {
		w = b.placeholder(shape)
	} else if got, ok := st.sd.Get(full); !ok && st.sd.Has(full) {
		dt, s, _ := st.sd.Info(full)
		ki.Source = st.sd.Source(full)
		st.misShaped = append(st.misShaped, MisShaped{Name: full, Want: ki.Shape, Got: s, GotDType: dt, Source: ki.Source})
		w = b.placeholder(shape)
	} else if !ok {
		if record {
			st.missing = append(st.missing, full)
		}
		w = b.placeholder(shape)
	} else {
		ki.Source = st.sd.Source(full)
		switch {
		case got.Shape == nil && got.ShapeOnly(): // index-only: shape unknown
			w = b.placeholder(shape)
		case !slices.Equal(got.Shape, shape):
			st.misShaped = append(st.misShaped, MisShaped{Name: full, Want: ki.Shape, Got: append([]int{}, got.Shape...), Source: ki.Source})
			w = b.placeholder(shape)
		case got.ShapeOnly():
			w = b.placeholder(shape)
		default:
			w = got
			if b.convert {
				w = convertWeight(got, b.dtype)
			}
			if b.approx && w.DType == tensor.BF16 && !w.ApproxBF16Dot {
				c := *w // the header only: convertWeight may return got itself
				c.ApproxBF16Dot = true
				w = &c
			}
			ki.Loaded = true
		}
	}
	ki.DType = w.DType
	st.asked[full] = len(st.keys)
	st.keys = append(st.keys, ki)
	st.weights[full] = w
	if _, ok := st.names[w]; !ok {
		st.names[w] = full
	}
	return w
}

// Tied returns the weight for prefix.name, a parameter shared with `to` (OPT's lm_head.weight with
// embed_tokens, T5's encoder.embed_tokens with shared): the checkpoint's own tensor when it holds
// the key (checked against to's shape), else `to` itself. Either way the key is recorded with TiedTo.
func (b *Binder) Tied(name string, to *tensor.Weight) *tensor.Weight {
	st := b.st
	full := b.key(name)
	if to == nil {
		st.problems = append(st.problems, fmt.Sprintf("%s tied to a nil weight", full))
		return &tensor.Weight{}
	}
	toName := st.names[to]
	if i, ok := st.asked[full]; ok {
		return st.weights[full]
	} else if st.sd != nil {
		if st.sd.Has(full) {
			w := b.bind(full, to.Shape, true)
			i = st.asked[full]
			st.keys[i].TiedTo = toName
			return w
		}
	}
	st.asked[full] = len(st.keys)
	st.keys = append(st.keys, KeyInfo{Name: full, Shape: append([]int{}, to.Shape...), DType: to.DType, TiedTo: toName})
	st.weights[full] = to
	return to
}

// Keys lists every key the module tree asked for, in order, with shapes and tie information (the
// module-order state_dict() listing of transformers).
func (b *Binder) Keys() []KeyInfo {
	out := make([]KeyInfo, len(b.st.keys))
	copy(out, b.st.keys)
	return out
}

// Unexpected lists the checkpoint keys nobody asked for (nor skipped), in checkpoint order.
func (b *Binder) Unexpected() []SourcedKey {
	st := b.st
	if st.sd == nil {
		return nil
	}
	var out []SourcedKey
	for _, k := range st.sd.keys {
		if _, ok := st.asked[k]; ok || st.skipped[k] {
			continue
		}
		out = append(out, SourcedKey{Name: k, Source: st.sd.Source(k)})
	}
	return out
}

// Finish returns nil when every asked key was found with its shape and every checkpoint key was
// asked for (or skipped); otherwise one *KeysError (wrapping ErrKeys) listing all of them. Shape
// binders report only misuse (a key asked twice with two shapes).
func (b *Binder) Finish() error {
	st := b.st
	e := &KeysError{Missing: st.missing, Unexpected: b.Unexpected(), MisShaped: st.misShaped, Misuse: st.problems}
	if st.sd != nil {
		e.Dir = st.sd.dir
	}
	if len(e.Missing) == 0 && len(e.Unexpected) == 0 && len(e.MisShaped) == 0 && len(e.Misuse) == 0 {
		return nil
	}
	return e
}
