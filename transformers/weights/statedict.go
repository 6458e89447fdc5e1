package weights

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// Checkpoint file names, in the order LoadStateDict looks for them (transformers' WEIGHTS_NAME etc.).
const (
	SafetensorsName      = "model.safetensors"
	SafetensorsIndexName = "model.safetensors.index.json"
	PytorchName          = "pytorch_model.bin"
	PytorchIndexName     = "pytorch_model.bin.index.json"
)

// entry is one parameter of a state dict.
type entry struct {
	w      *tensor.Weight // nil for non-floating tensors; a nil Shape means unknown (index-only)
	dtype  string         // safetensors spelling; "" for in-memory and index-only entries
	shape  []int          // of non-floating tensors
	source string         // file it comes from ("" for in-memory ones)
}

// StateDict maps parameter names to weights over one or more opened files: the Go counterpart of the
// dict transformers builds in from_pretrained. Weights alias the files' memory maps; Close unmaps them,
// after which no weight from it (nor any model built on it) may be used. A StateDict is read-only after
// construction and safe for concurrent Get calls.
type StateDict struct {
	keys    []string
	entries map[string]entry
	files   []File
	index   *Index
	dir     string
}

// LoadStateDict opens the checkpoint in dir, looking for model.safetensors, then
// model.safetensors.index.json, then pytorch_model.bin, then pytorch_model.bin.index.json (the order
// transformers' from_pretrained prefers). Sharded checkpoints are validated: shard names must be plain
// file names in dir, every shard must exist, every key of the index must be in its shard. Symbolic
// links are followed (the Hugging Face cache's snapshots link to its blobs). A path to a single
// checkpoint file (or to an index file) is accepted too.
func LoadStateDict(dir string) (*StateDict, error) {
	if st, err := os.Stat(dir); err == nil && st.Mode().IsRegular() {
		if filepath.Ext(dir) == ".json" {
			if filepath.Base(dir) == PytorchIndexName {
				return loadSharded(dir, openTorchFile)
			}
			return loadSharded(dir, openSafetensorsFile)
		}
		return OpenFile(dir)
	}
	try := func(name string) (string, bool) {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		return p, err == nil && st.Mode().IsRegular()
	}
	if p, ok := try(SafetensorsName); ok {
		return loadSingle(p, openSafetensorsFile)
	}
	if p, ok := try(SafetensorsIndexName); ok {
		return loadSharded(p, openSafetensorsFile)
	}
	if p, ok := try(PytorchName); ok {
		return loadSingle(p, openTorchFile)
	}
	if p, ok := try(PytorchIndexName); ok {
		return loadSharded(p, openTorchFile)
	}
	return nil, fmt.Errorf("weights: %s holds none of %s, %s, %s, %s: %w", dir, SafetensorsName, SafetensorsIndexName, PytorchName, PytorchIndexName, ErrMissingFile)
}

func openSafetensorsFile(p string) (File, error) { return OpenSafetensors(p) }
func openTorchFile(p string) (File, error)       { return OpenTorch(p) }

// OpenFile opens one checkpoint file as a StateDict, choosing the reader by content (a zip archive is
// read as torch.save output, anything else as safetensors).
func OpenFile(path string) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: open %s: %w", path, err)
	}
	var magic [4]byte
	n, _ := f.ReadAt(magic[:], 0)
	f.Close()
	if n == 4 && string(magic[:]) == "PK\x03\x04" {
		return loadSingle(path, openTorchFile)
	}
	return loadSingle(path, openSafetensorsFile)
}

func loadSingle(p string, open func(string) (File, error)) (*StateDict, error) {
	f, err := open(p)
	if err != nil {
		return nil, err
	}
	sd := &StateDict{entries: map[string]entry{}, files: []File{f}, dir: filepath.Dir(p)}
	if err := sd.addFile(f, nil); err != nil {
		sd.Close()
		return nil, err
	}
	return sd, nil
}

func loadSharded(indexPath string, open func(string) (File, error)) (*StateDict, error) {
	idx, err := ReadIndex(indexPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(indexPath)
	sd := &StateDict{entries: map[string]entry{}, index: idx, dir: dir}
	byShard := map[string][]string{}
	for k, s := range idx.WeightMap {
		byShard[s] = append(byShard[s], k)
	}
	for _, shard := range idx.Shards() {
		p := filepath.Join(dir, shard)
		if _, err := os.Stat(p); err != nil {
			sd.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("weights: index %s names shard %s, which does not exist: %w", indexPath, shard, ErrMissingFile)
			}
			return nil, fmt.Errorf("weights: index %s: shard %s: %w", indexPath, shard, err)
		}
		f, err := open(p)
		if err != nil {
			sd.Close()
			return nil, err
		}
		sd.files = append(sd.files, f)
		want := byShard[shard]
		sort.Strings(want)
		for _, k := range want {
			if _, _, ok := f.Info(k); !ok {
				sd.Close()
				return nil, fmt.Errorf("weights: index %s maps %q to %s, which does not hold it: %w", indexPath, k, shard, ErrNotFound)
			}
		}
		if err := sd.addFile(f, idx); err != nil {
			sd.Close()
			return nil, err
		}
	}
	return sd, nil
}

// addFile adds every tensor of f. With an index, a key the index maps to another shard is an error;
// keys of the shard the index does not list are added (transformers loads whole shards).
// Non-floating tensors (int64 buffers...) are listed by Keys and Info and read with Int64, but Get
// does not return them.
func (sd *StateDict) addFile(f File, idx *Index) error {
	base := filepath.Base(f.Path())
	for _, k := range f.Keys() {
		if idx != nil {
			if s, ok := idx.WeightMap[k]; ok && s != base {
				return fmt.Errorf("weights: %s holds %q, which index %s maps to %s: %w", f.Path(), k, idx.Path, s, ErrFormat)
			}
		}
		if prev, ok := sd.entries[k]; ok {
			return fmt.Errorf("weights: %q appears in both %s and %s: %w", k, prev.source, f.Path(), ErrFormat)
		}
		dt, shape, _ := f.Info(k)
		e := entry{dtype: dt, shape: shape, source: f.Path()}
		if _, ok := weightDType(dt); ok {
			w, err := f.Weight(k)
			if err != nil {
				return err
			}
			e.w = w
		}
		sd.entries[k] = e
		sd.keys = append(sd.keys, k)
	}
	return nil
}

// NewShapeOnlyStateDict returns a state dict of shape-only weights (no data), for inspection and key
// checks without weights. A nil shape means "shape unknown": a Binder accepts any shape for it.
func NewShapeOnlyStateDict(index map[string][]int) *StateDict {
	sd := &StateDict{entries: make(map[string]entry, len(index))}
	for k, s := range index {
		sd.keys = append(sd.keys, k)
		var w *tensor.Weight
		if s != nil {
			w = &tensor.Weight{Shape: append([]int{}, s...)}
		} else {
			w = &tensor.Weight{}
		}
		sd.entries[k] = entry{w: w}
	}
	sort.Strings(sd.keys)
	return sd
}

// NewIndexStateDict returns a shape-only state dict holding exactly the keys of an index (shapes
// unknown, sources = shard names), to bind a model tree against a sharded checkpoint's key set
// without opening any shard.
func NewIndexStateDict(idx *Index) *StateDict {
	m := make(map[string][]int, len(idx.WeightMap))
	for k := range idx.WeightMap {
		m[k] = nil
	}
	sd := NewShapeOnlyStateDict(m)
	for k, s := range idx.WeightMap {
		e := sd.entries[k]
		e.source = s
		sd.entries[k] = e
	}
	sd.index = idx
	return sd
}

// NewStateDict wraps in-memory weights (e.g. random weights for tests and benchmarks); the weights
// are shared, not copied. Keys are sorted.
func NewStateDict(weights map[string]*tensor.Weight) *StateDict {
	sd := &StateDict{entries: make(map[string]entry, len(weights))}
	for k, w := range weights {
		sd.keys = append(sd.keys, k)
		sd.entries[k] = entry{w: w}
	}
	sort.Strings(sd.keys)
	return sd
}

// Get returns the floating weight (F32, F16, BF16) stored under name; false for absent names and
// for tensors of other dtypes (see Info and Int64).
func (s *StateDict) Get(name string) (*tensor.Weight, bool) {
	e, ok := s.entries[name]
	if !ok || e.w == nil {
		return nil, false
	}
	return e.w, true
}

// Has reports whether the state dict lists name, whatever its dtype.
func (s *StateDict) Has(name string) bool {
	_, ok := s.entries[name]
	return ok
}

// Info returns a key's dtype (safetensors spelling; "" when unknown, as for index-only or in-memory
// entries without data) and shape (nil when unknown).
func (s *StateDict) Info(name string) (dtype string, shape []int, ok bool) {
	e, ok := s.entries[name]
	if !ok {
		return "", nil, false
	}
	if e.w == nil {
		return e.dtype, append([]int(nil), e.shape...), true
	}
	dtype = e.dtype
	if dtype == "" && !e.w.ShapeOnly() {
		dtype = e.w.DType.String()
	}
	if e.w.Shape == nil {
		return dtype, nil, true
	}
	return dtype, append([]int{}, e.w.Shape...), true
}

// Int64 reads an I64 tensor (buffers, fixtures) from the file that holds it.
func (s *StateDict) Int64(name string) ([]int64, []int, error) {
	e, ok := s.entries[name]
	if !ok {
		return nil, nil, fmt.Errorf("weights: %s: tensor %q: %w", orMemory(s.dir), name, ErrNotFound)
	}
	for _, f := range s.files {
		if f.Path() == e.source {
			return f.Int64(name)
		}
	}
	return nil, nil, fmt.Errorf("weights: %s: tensor %q has no file data: %w", orMemory(s.dir), name, ErrNotFound)
}

// Source returns the file a key comes from ("" for in-memory state dicts or unknown keys).
func (s *StateDict) Source(name string) string { return s.entries[name].source }

// Keys lists every key: file order (shards in name order) for loaded checkpoints, sorted otherwise.
func (s *StateDict) Keys() []string { return append([]string(nil), s.keys...) }

// Len returns the number of keys.
func (s *StateDict) Len() int { return len(s.keys) }

// Index returns the sharded-checkpoint index the state dict was loaded from (nil for single files).
func (s *StateDict) Index() *Index { return s.index }

// Files returns the opened files (for reading non-floating tensors through File.Int64).
func (s *StateDict) Files() []File { return append([]File(nil), s.files...) }

// Close closes every file; weights from the state dict become invalid.
func (s *StateDict) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.files = nil
	s.entries = nil // Get fails from now on rather than hand out dangling views
	return first
}

// LoadIndexStateDict reads only the index of a sharded checkpoint in dir (model.safetensors.index.json,
// else pytorch_model.bin.index.json) and returns NewIndexStateDict of it: every key, no shapes, no
// shard opened. It serves inspection and key checks of snapshots without weights.
func LoadIndexStateDict(dir string) (*StateDict, error) {
	for _, name := range []string{SafetensorsIndexName, PytorchIndexName} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			idx, err := ReadIndex(p)
			if err != nil {
				return nil, err
			}
			sd := NewIndexStateDict(idx)
			sd.dir = dir
			return sd, nil
		}
	}
	return nil, fmt.Errorf("weights: %s holds neither %s nor %s: %w", dir, SafetensorsIndexName, PytorchIndexName, ErrMissingFile)
}
