package weights

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path"
	"strings"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// torchTensor is one resolved tensor of a pytorch_model.bin.
type torchTensor struct {
	dtype string
	shape []int
	raw   []byte // contiguous little-endian bytes (a view of the mapping, or a compacted copy)
}

// TorchFile is an opened pytorch_model.bin in the torch.save zip format (torch.load(mmap=True,
// weights_only=True) in Python). The pickle is interpreted by a restricted, data-only unpickler;
// tensor bytes of stored (uncompressed) zip entries are views into the file's memory map.
type TorchFile struct {
	path    string
	data    []byte
	release func() error
	keys    []string
	tensors map[string]*torchTensor
}

var _ File = (*TorchFile)(nil)

// OpenTorch maps a pytorch_model.bin read-only and resolves every tensor of its state dict.
func OpenTorch(path string) (*TorchFile, error) {
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
	t := &TorchFile{path: path, data: data, release: release}
	if err := t.parse(); err != nil {
		release()
		return nil, err
	}
	return t, nil
}

// parseTorch is OpenTorch on bytes already in memory (used by tests and fuzzing).
func parseTorch(path string, data []byte) (*TorchFile, error) {
	t := &TorchFile{path: path, data: data, release: func() error { return nil }}
	if err := t.parse(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *TorchFile) parse() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("weights: %s: %s: %w", t.path, fmt.Sprintf(format, args...), ErrFormat)
	}
	if len(t.data) >= 2 && t.data[0] == 0x80 && !bytes.HasPrefix(t.data, []byte("PK")) {
		return bad("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a recent torch or convert it to safetensors")
	}
	zr, err := zip.NewReader(bytes.NewReader(t.data), int64(len(t.data)))
	if err != nil {
		return bad("not a torch.save zip archive: %v", err)
	}
	entries := map[string]*zip.File{}
	var pkl *zip.File
	prefix := ""
	for _, zf := range zr.File {
		if _, dup := entries[zf.Name]; dup {
			return bad("zip entry %q appears twice", zf.Name)
		}
		entries[zf.Name] = zf
		if dir, base := path.Split(zf.Name); base == "data.pkl" && strings.Count(zf.Name, "/") == 1 {
			if pkl != nil {
				return bad("two data.pkl entries (%s, %s)", pkl.Name, zf.Name)
			}
			pkl, prefix = zf, dir
		}
	}
	if pkl == nil {
		return bad("no <name>/data.pkl entry: not a torch.save archive")
	}
	if bo, ok := entries[prefix+"byteorder"]; ok {
		b, err := t.entryBytes(bo, 16)
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return bad("byteorder %q is not supported (only little)", s)
		}
	}
	if pkl.UncompressedSize64 > MaxPickleBytes {
		return bad("%s is %d bytes, over the %d-byte limit", pkl.Name, pkl.UncompressedSize64, MaxPickleBytes)
	}
	pdata, err := t.entryBytes(pkl, int64(pkl.UncompressedSize64))
	if err != nil {
		return err
	}
	root, err := unpickle(t.path, pdata)
	if err != nil {
		return err
	}
	d, ok := root.(*pDict)
	if !ok {
		return bad("data.pkl holds a %s, not a state dict", typeName(root))
	}
	t.tensors = make(map[string]*torchTensor, len(d.keys))
	storageBytes := map[string][]byte{}
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return bad("state dict key %v is not a string", k)
		}
		pt, ok := d.vals[i].(*pTensor)
		if !ok {
			return bad("state dict entry %q is a %s, not a tensor", name, typeName(d.vals[i]))
		}
		s := pt.storage
		raw, ok := storageBytes[s.key]
		if !ok {
			zf, ok := entries[prefix+"data/"+s.key]
			if !ok {
				return bad("tensor %q: storage entry %sdata/%s is missing", name, prefix, s.key)
			}
			hi, nbytes := bits.Mul64(uint64(s.numel), uint64(s.elemSize))
			if hi != 0 || nbytes != zf.UncompressedSize64 {
				return bad("tensor %q: storage %s holds %d bytes, not %d × %d", name, s.key, zf.UncompressedSize64, s.numel, s.elemSize)
			}
			raw, err = t.entryBytes(zf, int64(nbytes))
			if err != nil {
				return err
			}
			storageBytes[s.key] = raw
		}
		tt, err := resolveTensor(pt, raw)
		if err != nil {
			return bad("tensor %q: %v", name, err)
		}
		t.keys = append(t.keys, name)
		t.tensors[name] = tt
	}
	return nil
}

// entryBytes returns a zip entry's bytes: a view of the mapping when stored, else a bounded copy.
func (t *TorchFile) entryBytes(zf *zip.File, want int64) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("weights: %s: zip entry %s: %s: %w", t.path, zf.Name, fmt.Sprintf(format, args...), ErrFormat)
	}
	if zf.UncompressedSize64 > uint64(want) {
		return nil, bad("%d bytes, expected at most %d", zf.UncompressedSize64, want)
	}
	n := int64(zf.UncompressedSize64)
	if zf.Method == zip.Store {
		off, err := zf.DataOffset()
		if err != nil {
			return nil, bad("%v", err)
		}
		if zf.CompressedSize64 != zf.UncompressedSize64 || off < 0 || off > int64(len(t.data)) || n > int64(len(t.data))-off {
			return nil, bad("stored data [%d, +%d) outside the file", off, n)
		}
		return t.data[off : off+n : off+n], nil
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, bad("%v", err)
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, bad("%v", err)
	}
	if m, _ := rc.Read(make([]byte, 1)); m != 0 {
		return nil, bad("more data than its declared size")
	}
	return buf, nil
}

// resolveTensor turns (storage, offset, size, stride) into contiguous bytes: a view when the tensor
// is contiguous, a compacting copy otherwise (never larger than its storage).
func resolveTensor(pt *pTensor, storage []byte) (*torchTensor, error) {
	s := pt.storage
	es := uint64(s.elemSize)
	numel := uint64(1)
	for _, d := range pt.size {
		if uint64(d) > maxDim() {
			return nil, fmt.Errorf("dimension %d of size %v exceeds %d", d, pt.size, maxDim())
		}
		hi, lo := bits.Mul64(numel, uint64(d))
		if hi != 0 || lo > 1<<62 {
			return nil, fmt.Errorf("size %v overflows", pt.size)
		}
		numel = lo
	}
	shape := make([]int, len(pt.size))
	for i, d := range pt.size {
		shape[i] = int(d)
	}
	tt := &torchTensor{dtype: s.dtype, shape: shape}
	if numel == 0 {
		tt.raw = []byte{}
		return tt, nil
	}
	if numel > uint64(s.numel) {
		return nil, fmt.Errorf("size %v needs %d elements, storage %s holds %d", pt.size, numel, s.key, s.numel)
	}
	// Highest element index touched.
	last := uint64(pt.offset)
	for i, d := range pt.size {
		hi, lo := bits.Mul64(uint64(d-1), uint64(pt.stride[i]))
		if hi != 0 {
			return nil, fmt.Errorf("stride %v overflows", pt.stride)
		}
		var c uint64
		last, c = bits.Add64(last, lo, 0)
		if c != 0 {
			return nil, fmt.Errorf("stride %v overflows", pt.stride)
		}
	}
	if last >= uint64(s.numel) {
		return nil, fmt.Errorf("offset %d, size %v, stride %v run past storage %s of %d elements", pt.offset, pt.size, pt.stride, s.key, s.numel)
	}
	contiguous := true
	want := int64(1)
	for i := len(pt.size) - 1; i >= 0; i-- {
		if pt.size[i] != 1 && pt.stride[i] != want {
			contiguous = false
			break
		}
		want *= pt.size[i]
	}
	if contiguous {
		start := uint64(pt.offset) * es
		tt.raw = storage[start : start+numel*es : start+numel*es]
		return tt, nil
	}
	out := make([]byte, 0, numel*es)
	idx := make([]int64, len(pt.size))
	for n := uint64(0); n < numel; n++ {
		e := pt.offset
		for i, v := range idx {
			e += v * pt.stride[i]
		}
		out = append(out, storage[uint64(e)*es:uint64(e+1)*es]...)
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < pt.size[i] {
				break
			}
			idx[i] = 0
		}
	}
	tt.raw = out
	return tt, nil
}

func typeName(v any) string {
	switch v.(type) {
	case *pDict:
		return "dict"
	case *pList:
		return "list"
	case pTuple:
		return "tuple"
	case *pTensor:
		return "tensor"
	case *pStorage:
		return "storage"
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}

// Path returns the file name given to OpenTorch.
func (t *TorchFile) Path() string { return t.path }

// Keys lists the state dict's names in pickle order.
func (t *TorchFile) Keys() []string { return append([]string(nil), t.keys...) }

// Info returns a tensor's dtype (safetensors spelling) and shape.
func (t *TorchFile) Info(name string) (string, []int, bool) {
	tt, ok := t.tensors[name]
	if !ok {
		return "", nil, false
	}
	return tt.dtype, append([]int{}, tt.shape...), true
}

func (t *TorchFile) lookup(name string) (*torchTensor, error) {
	if t.data == nil {
		return nil, fmt.Errorf("weights: %s: read %q after Close", t.path, name)
	}
	tt, ok := t.tensors[name]
	if !ok {
		return nil, fmt.Errorf("weights: %s: tensor %q: %w", t.path, name, ErrNotFound)
	}
	return tt, nil
}

// Weight returns an F32, F16 or BF16 tensor in its storage dtype (zero-copy when contiguous, stored
// and aligned).
func (t *TorchFile) Weight(name string) (*tensor.Weight, error) {
	tt, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	dt, ok := weightDType(tt.dtype)
	if !ok {
		return nil, errUnsupportedDType(t.path, name, tt.dtype, "a weight (F32, F16, BF16)")
	}
	return viewWeight(tt.raw, dt, tt.shape), nil
}

// Float32 returns a floating tensor widened to float32 (a fresh copy).
func (t *TorchFile) Float32(name string) (*tensor.Tensor, error) {
	w, err := t.Weight(name)
	if err != nil {
		return nil, err
	}
	return widen(w), nil
}

// Int64 returns an I64 (torch.long) tensor's values and shape.
func (t *TorchFile) Int64(name string) ([]int64, []int, error) {
	tt, err := t.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if tt.dtype != "I64" {
		return nil, nil, errUnsupportedDType(t.path, name, tt.dtype, "I64")
	}
	return viewInt64(tt.raw), append([]int{}, tt.shape...), nil
}

// Close unmaps the file. Views obtained from it must not be used afterwards.
func (t *TorchFile) Close() error {
	if t.data == nil {
		return nil
	}
	t.data = nil
	if err := t.release(); err != nil {
		return fmt.Errorf("weights: close %s: %w", t.path, err)
	}
	return nil
}
