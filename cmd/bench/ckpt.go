package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// The real-size benchmarks build a checkpoint of deterministic random weights laid out exactly as
// the hub's (config.json, tokenizer and processor files of parity/testdata/real-<config>, the
// shard names of its model.safetensors.index.json), write it once into a cache folder and load it
// through FromPretrained like a real checkpoint.

// ckptVersion changes whenever the generated values or layout change (a cached folder of another
// version is rebuilt).
const ckptVersion = "gotransformers-bench-ckpt-v1"

// benchConfigs maps the --config names to their fixture folders under --testdata.
var benchConfigs = map[string]string{
	"opt-2.7b":   "real-blip2-opt-2.7b",
	"flan-t5-xl": "real-blip2-flan-t5-xl",
}

// ckptFlags are the flags every real-size benchmark shares.
type ckptFlags struct {
	config   string
	dtype    string
	cache    string
	testdata string
	warm     bool
}

func (c *ckptFlags) register(fs *flag.FlagSet, defConfig, defDType string) {
	fs.StringVar(&c.config, "config", defConfig, "checkpoint layout: opt-2.7b | flan-t5-xl")
	fs.StringVar(&c.dtype, "dtype", defDType, "stored weight dtype: float32 | bfloat16")
	fs.StringVar(&c.cache, "cache", defaultCacheRoot(), "folder holding the generated checkpoints (<config>-<dtype>)")
	fs.StringVar(&c.testdata, "testdata", filepath.Join("parity", "testdata"), "folder holding real-blip2-opt-2.7b and real-blip2-flan-t5-xl")
	fs.BoolVar(&c.warm, "warm", true, "read the shards once before measuring (a warm page cache)")
}

// defaultCacheRoot is $XDG_CACHE_HOME/gotransformers-bench, else /tmp/gotransformers-bench.
func defaultCacheRoot() string {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "gotransformers-bench")
	}
	return filepath.Join(os.TempDir(), "gotransformers-bench")
}

func parseDType(s string) (tensor.DType, error) {
	switch s {
	case "float32", "f32", "F32":
		return tensor.F32, nil
	case "bfloat16", "bf16", "BF16":
		return tensor.BF16, nil
	}
	return 0, fmt.Errorf("--dtype %q: want float32 or bfloat16", s)
}

func dtypeName(d tensor.DType) string {
	if d == tensor.BF16 {
		return "bfloat16"
	}
	return "float32"
}

// ckptInfo describes a generated checkpoint.
type ckptInfo struct {
	Dir     string
	Config  string
	DType   tensor.DType
	Bytes   int64            // total weight bytes (the index's total_size)
	Sizes   map[string]int64 // bytes per key
	Created bool             // written by this call
	Took    time.Duration    // time to write (when Created)
}

// ckptMarker is written last into a complete folder.
type ckptMarker struct {
	Version string `json:"version"`
	Config  string `json:"config"`
	DType   string `json:"dtype"`
	Bytes   int64  `json:"total_size"`
}

const markerName = ".bench-complete.json"

// tensorSpec is one tensor to write.
type tensorSpec struct {
	name  string
	shape []int
}

// ensureCheckpoint returns the checkpoint folder of c, writing it first when absent or incomplete.
func ensureCheckpoint(ctx context.Context, c *ckptFlags) (*ckptInfo, error) {
	fixture, ok := benchConfigs[c.config]
	if !ok {
		return nil, fmt.Errorf("--config %q: want opt-2.7b or flan-t5-xl", c.config)
	}
	dt, err := parseDType(c.dtype)
	if err != nil {
		return nil, err
	}
	src := filepath.Join(c.testdata, fixture)
	dir := filepath.Join(c.cache, c.config+"-"+dtypeName(dt))

	// the key set and shapes come from the model tree built on the real config (shape only)
	cfg, err := blip2.Blip2ConfigFromPretrained(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.config, err)
	}
	m, err := blip2.NewShapeOnly(cfg)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.config, err)
	}
	idx, err := weights.ReadIndex(filepath.Join(src, weights.SafetensorsIndexName))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.config, err)
	}
	shards := map[string][]tensorSpec{}
	sizes := map[string]int64{}
	seen := map[string]bool{}
	var total int64
	for _, k := range m.StateDictKeys() {
		shard, inIndex := idx.WeightMap[k.Name]
		if !inIndex {
			if k.TiedTo == "" || k.TiedTo == k.Name {
				return nil, fmt.Errorf("checkpoint %s: key %s is not in %s", c.config, k.Name, idx.Path)
			}
			continue // tied key the hub checkpoint omits
		}
		seen[k.Name] = true
		shards[shard] = append(shards[shard], tensorSpec{k.Name, k.Shape})
		n := int64(tensor.Numel(k.Shape)) * int64(dt.Size())
		sizes[k.Name] = n
		total += n
	}
	for k := range idx.WeightMap {
		if !seen[k] {
			return nil, fmt.Errorf("checkpoint %s: %s lists %s, which the model does not have", c.config, idx.Path, k)
		}
	}
	info := &ckptInfo{Dir: dir, Config: c.config, DType: dt, Bytes: total, Sizes: sizes}
	want := ckptMarker{Version: ckptVersion, Config: c.config, DType: dtypeName(dt), Bytes: total}
	if raw, err := os.ReadFile(filepath.Join(dir, markerName)); err == nil {
		var got ckptMarker
		if json.Unmarshal(raw, &got) == nil && got == want {
			return info, nil
		}
	}

	start := time.Now()
	fmt.Fprintf(os.Stderr, "writing %s checkpoint (%.2f GB) into %s ...\n", c.config+"-"+dtypeName(dt), float64(total)/1e9, dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	os.Remove(filepath.Join(dir, markerName))
	// the small files: config, tokenizer, processor (not the fixture's indexes or cases)
	ents, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".index.json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(dir, name), func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return nil, err
		}
	}
	pool := newValuePool(dt)
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	slices.Sort(names)
	for _, s := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		specs := shards[s]
		if err := writeFileAtomic(filepath.Join(dir, s), func(w io.Writer) error {
			return writeShard(w, specs, dt, pool)
		}); err != nil {
			return nil, err
		}
	}
	wm := map[string]string{}
	for s, specs := range shards {
		for _, sp := range specs {
			wm[sp.name] = s
		}
	}
	indexJSON, err := json.MarshalIndent(map[string]any{
		"metadata":   map[string]any{"total_size": total},
		"weight_map": wm,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, weights.SafetensorsIndexName), func(w io.Writer) error {
		_, err := w.Write(indexJSON)
		return err
	}); err != nil {
		return nil, err
	}
	mj, _ := json.Marshal(want)
	if err := writeFileAtomic(filepath.Join(dir, markerName), func(w io.Writer) error {
		_, err := w.Write(mj)
		return err
	}); err != nil {
		return nil, err
	}
	info.Created, info.Took = true, time.Since(start)
	fmt.Fprintf(os.Stderr, "wrote %.2f GB in %.1f s\n", float64(total)/1e9, info.Took.Seconds())
	return info, nil
}

// writeFileAtomic writes path through a temporary file in the same folder, synced and renamed.
func writeFileAtomic(path string, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 4<<20)
	if err = fill(bw); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	return nil
}

// valuePool holds the encoded random values the tensors are cut from: poolLen normal(0, 0.02)
// values, plus the encodings of 1 and 0.
type valuePool struct {
	size       int // bytes per element
	normal     []byte
	one, zero  []byte // chunkLen elements each
	poolLen    int
	chunkBytes int
}

const (
	poolLen  = 1 << 22
	chunkLen = 4096
	initStd  = 0.02
)

func newValuePool(dt tensor.DType) *valuePool {
	p := &valuePool{size: dt.Size(), poolLen: poolLen}
	p.chunkBytes = chunkLen * p.size
	r := rand.New(rand.NewPCG(0x5eed, 0xb11b2))
	enc := func(dst []byte, v float32) {
		if dt == tensor.BF16 {
			binary.LittleEndian.PutUint16(dst, tensor.F32ToBF16(v))
		} else {
			binary.LittleEndian.PutUint32(dst, math.Float32bits(v))
		}
	}
	p.normal = make([]byte, poolLen*p.size)
	for i := range poolLen {
		enc(p.normal[i*p.size:], float32(r.NormFloat64()*initStd))
	}
	p.one = make([]byte, p.chunkBytes)
	p.zero = make([]byte, p.chunkBytes)
	for i := range chunkLen {
		enc(p.one[i*p.size:], 1)
	}
	return p
}

// initKind says how a tensor is filled: layer-norm weights 1, biases 0, the rest normal(0, 0.02)
// (transformers' _init_weights with initializer_range 0.02).
func initKind(name string, shape []int) string {
	lower := strings.ToLower(name)
	isNorm := strings.Contains(lower, "norm")
	switch {
	case isNorm && strings.HasSuffix(name, ".weight") && len(shape) == 1:
		return "one"
	case strings.HasSuffix(name, ".bias"):
		return "zero"
	}
	return "normal"
}

// writeShard writes one safetensors file holding specs, in order.
func writeShard(w io.Writer, specs []tensorSpec, dt tensor.DType, pool *valuePool) error {
	type entry struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	hdr := []byte(`{"__metadata__":{"format":"pt"}`)
	var off int64
	for _, s := range specs {
		n := int64(tensor.Numel(s.shape)) * int64(dt.Size())
		k, _ := json.Marshal(s.name)
		v, err := json.Marshal(entry{DType: dt.String(), Shape: s.shape, DataOffsets: [2]int64{off, off + n}})
		if err != nil {
			return err
		}
		off += n
		hdr = append(hdr, ',')
		hdr = append(hdr, k...)
		hdr = append(hdr, ':')
		hdr = append(hdr, v...)
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(hdr)))
	if _, err := w.Write(lb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, s := range specs {
		n := tensor.Numel(s.shape)
		kind := initKind(s.name, s.shape)
		h := fnv.New64a()
		h.Write([]byte(s.name))
		r := rand.New(rand.NewPCG(h.Sum64(), 7))
		for done := 0; done < n; done += chunkLen {
			cnt := min(chunkLen, n-done)
			var b []byte
			switch kind {
			case "one":
				b = pool.one[:cnt*pool.size]
			case "zero":
				b = pool.zero[:cnt*pool.size]
			default:
				at := r.IntN(pool.poolLen-chunkLen) * pool.size
				b = pool.normal[at : at+cnt*pool.size]
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}
