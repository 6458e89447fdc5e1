package weights

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"unsafe"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// SaveSafetensors writes tensors to path in the safetensors format (safetensors.torch.save_file in
// Python): the header is padded with spaces to a multiple of 8 bytes as the reference library does,
// tensors are laid out by decreasing element size then name, metadata goes to "__metadata__". The file
// is written under a temporary name in the same folder, synced and renamed, so path never holds a
// partial file.
func SaveSafetensors(path string, tensors map[string]*tensor.Weight, metadata map[string]string) (err error) {
	names := make([]string, 0, len(tensors))
	for name, w := range tensors {
		if name == "__metadata__" {
			return fmt.Errorf("weights: save %s: %q is reserved: %w", path, name, ErrFormat)
		}
		if w == nil || w.ShapeOnly() {
			return fmt.Errorf("weights: save %s: tensor %q has no data: %w", path, name, ErrFormat)
		}
		if w.DType != tensor.F32 && w.DType != tensor.F16 && w.DType != tensor.BF16 {
			return fmt.Errorf("weights: save %s: tensor %q: dtype %v: %w", path, name, w.DType, ErrUnsupportedDType)
		}
		n := w.Numel()
		if (w.DType == tensor.F32 && len(w.F32) != n) || (w.DType != tensor.F32 && len(w.Half) != n) {
			return fmt.Errorf("weights: save %s: tensor %q: shape %v does not match its data: %w", path, name, w.Shape, ErrFormat)
		}
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		si, sj := tensors[names[i]].DType.Size(), tensors[names[j]].DType.Size()
		if si != sj {
			return si > sj
		}
		return names[i] < names[j]
	})
	type entry struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	// Build the header by hand to keep the entry order (metadata first, then data order).
	hdr := []byte{'{'}
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata)
		if err != nil {
			return fmt.Errorf("weights: save %s: metadata: %w", path, err)
		}
		hdr = append(hdr, `"__metadata__":`...)
		hdr = append(hdr, m...)
	}
	var off int64
	for i, name := range names {
		w := tensors[name]
		shape := w.Shape
		if shape == nil {
			shape = []int{}
		}
		e := entry{DType: w.DType.String(), Shape: shape, DataOffsets: [2]int64{off, off + w.Bytes()}}
		off += w.Bytes()
		k, _ := json.Marshal(name)
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("weights: save %s: tensor %q: %w", path, name, err)
		}
		if i > 0 || len(metadata) > 0 {
			hdr = append(hdr, ',')
		}
		hdr = append(hdr, k...)
		hdr = append(hdr, ':')
		hdr = append(hdr, v...)
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	bw.Write(lenBuf[:])
	bw.Write(hdr)
	for _, name := range names {
		if _, err = bw.Write(weightBytes(tensors[name])); err != nil {
			return fmt.Errorf("weights: save %s: %w", path, err)
		}
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	return nil
}

// weightBytes returns a weight's data as little-endian bytes: a view on little-endian machines, a
// converted copy otherwise.
func weightBytes(w *tensor.Weight) []byte {
	if w.DType == tensor.F32 {
		if len(w.F32) == 0 {
			return nil
		}
		if littleEndian() {
			return unsafe.Slice((*byte)(unsafe.Pointer(&w.F32[0])), 4*len(w.F32))
		}
		b := make([]byte, 4*len(w.F32))
		for i, v := range w.F32 {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	if len(w.Half) == 0 {
		return nil
	}
	if littleEndian() {
		return unsafe.Slice((*byte)(unsafe.Pointer(&w.Half[0])), 2*len(w.Half))
	}
	b := make([]byte, 2*len(w.Half))
	for i, v := range w.Half {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}
