package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"os"
	"sort"
	"unicode/utf8"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// Limits applied to safetensors headers (the reference library uses the same 100 MB header bound).
const (
	// MaxHeaderBytes bounds the JSON header of a safetensors file.
	MaxHeaderBytes = 100 << 20
	// MaxRank bounds the number of dimensions of one tensor.
	MaxRank = 64
	// MaxDim bounds each dimension (it matters for tensors with a zero dimension, whose other
	// dimensions the data size does not bound); on 32-bit platforms math.MaxInt32 applies.
	MaxDim = 1 << 48
)

// maxDim is MaxDim capped to the platform's int.
func maxDim() uint64 { return min(uint64(MaxDim), uint64(math.MaxInt)) }

// tensorInfo is one header entry of a safetensors file.
type tensorInfo struct {
	name       string
	dtype      string
	shape      []int
	begin, end uint64 // byte offsets inside the data region
}

// stHeader is a validated safetensors header.
type stHeader struct {
	dataStart uint64 // 8 + header length
	tensors   []tensorInfo
	byName    map[string]int
	metadata  map[string]string
}

// parseSafetensors validates the header of a safetensors file held in data (the whole file) exactly
// as the reference library does: 8-byte little-endian header length (at most MaxHeaderBytes and
// within the file), a JSON object of tensor entries plus an optional "__metadata__" string map, every
// entry with a known dtype, a shape of non-negative dimensions and data_offsets [begin, end] whose
// length is numel*itemsize; sorted by offset the entries tile the data region exactly (no overlap, no
// hole, no trailing bytes). It never allocates in proportion to a claimed shape.
func parseSafetensors(path string, data []byte) (*stHeader, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("weights: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrFormat)
	}
	size := uint64(len(data))
	if size < 8 {
		return nil, bad("file of %d bytes is too short for a safetensors header", size)
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderBytes {
		return nil, bad("header length %d exceeds the %d-byte limit", n, MaxHeaderBytes)
	}
	if n > size-8 {
		return nil, bad("header length %d exceeds the file size %d", n, size)
	}
	hdr := data[8 : 8+n]
	if !utf8.Valid(hdr) {
		return nil, bad("header is not valid UTF-8")
	}
	h := &stHeader{dataStart: 8 + n, byName: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, bad("header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bad("header is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("header is not JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, bad("header key is not a string")
		}
		if seen[key] {
			return nil, bad("header key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad("header entry %q is not JSON: %v", key, err)
		}
		if key == "__metadata__" {
			if err := json.Unmarshal(raw, &h.metadata); err != nil {
				return nil, bad("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		ti, err := parseEntry(key, raw)
		if err != nil {
			return nil, bad("%v", err)
		}
		h.byName[key] = len(h.tensors)
		h.tensors = append(h.tensors, ti)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, bad("header is not JSON: %v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the header object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, bad("trailing data after the header object")
	}
	dataLen := size - h.dataStart
	order := make([]int, len(h.tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := h.tensors[order[a]], h.tensors[order[b]]
		if ta.begin != tb.begin {
			return ta.begin < tb.begin
		}
		return ta.end < tb.end
	})
	var pos uint64
	for _, i := range order {
		t := h.tensors[i]
		if t.begin != pos {
			if t.begin < pos {
				return nil, bad("tensor %q: data_offsets [%d, %d] overlap the previous tensor (ending at %d)", t.name, t.begin, t.end, pos)
			}
			return nil, bad("tensor %q: data_offsets [%d, %d] leave a hole after offset %d", t.name, t.begin, t.end, pos)
		}
		if t.end > dataLen {
			return nil, bad("tensor %q: data_offsets [%d, %d] run past the data region of %d bytes", t.name, t.begin, t.end, dataLen)
		}
		pos = t.end
	}
	if pos != dataLen {
		return nil, bad("data region is %d bytes but the tensors cover %d", dataLen, pos)
	}
	return h, nil
}

// parseEntry validates one tensor entry of the header.
func parseEntry(name string, raw json.RawMessage) (tensorInfo, error) {
	var e struct {
		DType       *string   `json:"dtype"`
		Shape       *[]uint64 `json:"shape"`
		DataOffsets *[]uint64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return tensorInfo{}, fmt.Errorf("tensor %q: bad entry: %v", name, err)
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return tensorInfo{}, fmt.Errorf("tensor %q: entry needs dtype, shape and data_offsets", name)
	}
	size, ok := dtypeSizes[*e.DType]
	if !ok {
		return tensorInfo{}, fmt.Errorf("tensor %q: unknown dtype %q", name, *e.DType)
	}
	if len(*e.Shape) > MaxRank {
		return tensorInfo{}, fmt.Errorf("tensor %q: rank %d exceeds %d", name, len(*e.Shape), MaxRank)
	}
	if len(*e.DataOffsets) != 2 {
		return tensorInfo{}, fmt.Errorf("tensor %q: data_offsets must hold 2 numbers, not %d", name, len(*e.DataOffsets))
	}
	for _, d := range *e.Shape {
		if d > maxDim() {
			return tensorInfo{}, fmt.Errorf("tensor %q: dimension %d of shape %v exceeds %d", name, d, *e.Shape, maxDim())
		}
	}
	begin, end := (*e.DataOffsets)[0], (*e.DataOffsets)[1]
	if end < begin {
		return tensorInfo{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, begin, end)
	}
	nbytes, ok := checkedNumel(*e.Shape)
	if ok {
		var hi uint64
		hi, nbytes = bits.Mul64(nbytes, size)
		ok = hi == 0
	}
	if !ok || nbytes != end-begin {
		return tensorInfo{}, fmt.Errorf("tensor %q: shape %v of %s does not fit data_offsets [%d, %d]", name, *e.Shape, *e.DType, begin, end)
	}
	shape := make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		shape[i] = int(d) // fits: the product fits in the (bounded) file size
	}
	return tensorInfo{name: name, dtype: *e.DType, shape: shape, begin: begin, end: end}, nil
}

// checkedNumel multiplies dimensions, reporting false on overflow of a non-negative int.
func checkedNumel(shape []uint64) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > 1<<62 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// Safetensors is an opened, memory-mapped safetensors file (safetensors.safe_open in Python).
// It is safe for concurrent reads; Close must not race with other calls.
type Safetensors struct {
	path    string
	data    []byte
	release func() error
	h       *stHeader
}

var _ File = (*Safetensors)(nil)

// OpenSafetensors maps a safetensors file read-only and validates its header (see parseSafetensors
// for the rules). Tensors are views into the mapping, valid until Close.
func OpenSafetensors(path string) (*Safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("weights: %s is not a regular file: %w", path, ErrFormat)
	}
	data, release, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("weights: map %s: %w", path, err)
	}
	h, err := parseSafetensors(path, data)
	if err != nil {
		release()
		return nil, err
	}
	return &Safetensors{path: path, data: data, release: release, h: h}, nil
}

// Path returns the file name given to OpenSafetensors.
func (s *Safetensors) Path() string { return s.path }

// Keys lists the tensor names in header order.
func (s *Safetensors) Keys() []string {
	out := make([]string, len(s.h.tensors))
	for i, t := range s.h.tensors {
		out[i] = t.name
	}
	return out
}

// Metadata returns the header's "__metadata__" map (nil when absent). Do not modify it.
func (s *Safetensors) Metadata() map[string]string { return s.h.metadata }

// Info returns a tensor's dtype and shape.
func (s *Safetensors) Info(name string) (string, []int, bool) {
	i, ok := s.h.byName[name]
	if !ok {
		return "", nil, false
	}
	t := s.h.tensors[i]
	return t.dtype, append([]int{}, t.shape...), true
}

func (s *Safetensors) lookup(name string) (tensorInfo, []byte, error) {
	if s.data == nil {
		return tensorInfo{}, nil, fmt.Errorf("weights: %s: read %q after Close", s.path, name)
	}
	i, ok := s.h.byName[name]
	if !ok {
		return tensorInfo{}, nil, fmt.Errorf("weights: %s: tensor %q: %w", s.path, name, ErrNotFound)
	}
	t := s.h.tensors[i]
	return t, s.data[s.h.dataStart+t.begin : s.h.dataStart+t.end], nil
}

// Weight returns an F32, F16 or BF16 tensor in its storage dtype, viewing the mapping (a copy only
// when the tensor's offset is not aligned for its dtype).
func (s *Safetensors) Weight(name string) (*tensor.Weight, error) {
	t, raw, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	dt, ok := weightDType(t.dtype)
	if !ok {
		return nil, errUnsupportedDType(s.path, name, t.dtype, "a weight (F32, F16, BF16)")
	}
	return viewWeight(raw, dt, t.shape), nil
}

// Float32 returns a floating tensor widened to float32 (a fresh copy).
func (s *Safetensors) Float32(name string) (*tensor.Tensor, error) {
	w, err := s.Weight(name)
	if err != nil {
		return nil, err
	}
	return widen(w), nil
}

// Int64 returns an I64 tensor's values (a view when aligned; never write it) and its shape.
func (s *Safetensors) Int64(name string) ([]int64, []int, error) {
	t, raw, err := s.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if t.dtype != "I64" {
		return nil, nil, errUnsupportedDType(s.path, name, t.dtype, "I64")
	}
	return viewInt64(raw), append([]int{}, t.shape...), nil
}

// Close unmaps the file. Views obtained from it must not be used afterwards.
func (s *Safetensors) Close() error {
	if s.data == nil {
		return nil
	}
	s.data = nil
	if err := s.release(); err != nil {
		return fmt.Errorf("weights: close %s: %w", s.path, err)
	}
	return nil
}
