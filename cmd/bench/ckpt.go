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
	"github.com/gotransformers/gotransformers/transformers"
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

// benchConfig is one --config: the fixture folder under --testdata its config.json, tokenizer and
// processor files come from and, for a derived config, the text_config fields that replace the
// fixture's.
type benchConfig struct {
	fixture string
	// textConfig set makes the config derived: config.json is the fixture's with these text_config
	// fields replaced, and the shard layout is computed by hubShardLayout (the fixture's
	// model.safetensors.index.json is for another model and is not used).
	textConfig map[string]any
}

// benchConfigs maps the --config names to their sources.
var benchConfigs = map[string]benchConfig{
	"opt-2.7b":   {fixture: "real-blip2-opt-2.7b"},
	"flan-t5-xl": {fixture: "real-blip2-flan-t5-xl"},
	// Salesforce/blip2-opt-6.7b is blip2-opt-2.7b with facebook/opt-6.7b as the language model:
	// vision model, Q-Former, tokenizer, processor and special ids are the same. No real
	// blip2-opt-6.7b file is in the repository, so its config is derived from the opt-2.7b one:
	// facebook/opt-6.7b's config.json differs from facebook/opt-2.7b's only in these fields (both
	// have 32 layers and 32 heads, max_position_embeddings 2048, relu, pre-LN, no
	// project_in/out). vocab_size stays the BLIP-2 opt-2.7b file's 50304: the hub's BLIP-2 OPT
	// checkpoints add the <image> token (50265) and pad the embedding to a multiple of 64
	// (facebook/opt-6.7b itself has 50272).
	"opt-6.7b": {fixture: "real-blip2-opt-2.7b", textConfig: map[string]any{
		"_name_or_path":           "facebook/opt-6.7b",
		"hidden_size":             4096,
		"ffn_dim":                 16384,
		"word_embed_proj_dim":     4096,
		"num_hidden_layers":       32,
		"num_attention_heads":     32,
		"max_position_embeddings": 2048,
	}},
}

// configNames lists the --config names for messages.
func configNames() string {
	names := make([]string, 0, len(benchConfigs))
	for n := range benchConfigs {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, " | ")
}

// hubMaxShardBytes is the shard size limit of the hub's BLIP-2 checkpoints (save_pretrained's
// max_shard_size "10GB" on the float32 weights): hubShardLayout with it reproduces the
// model.safetensors.index.json of blip2-opt-2.7b and blip2-flan-t5-xl exactly (ckpt_test.go).
const hubMaxShardBytes = 10_000_000_000

// ckptFlags are the flags every real-size benchmark shares.
type ckptFlags struct {
	config   string
	dtype    string
	cache    string
	testdata string
	warm     bool
}

func (c *ckptFlags) register(fs *flag.FlagSet, defConfig, defDType string) {
	fs.StringVar(&c.config, "config", defConfig, "checkpoint layout: "+configNames()+" (opt-6.7b: config derived from opt-2.7b's)")
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
	Params  int64            // parameters, tied ones counted once
	Derived bool             // config derived in code (no real config.json of this model in the repo)
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

// ckptLayout is what a --config's checkpoint holds.
type ckptLayout struct {
	name    string
	src     string // the fixture folder
	derived bool   // config.json derived from the fixture's (see benchConfig)
	// configJSON is the derived config.json (nil: the fixture's is copied).
	configJSON []byte
	cfg        *blip2.Blip2Config
	params     blip2.ParameterCounts
	// shards holds the tensors of each shard file in write order.
	shards map[string][]tensorSpec
}

// buildLayout reads (or derives) the config of name and lays out its keys into shards: the
// fixture's model.safetensors.index.json for a real config, hubShardLayout for a derived one. The
// key set and shapes come from the model tree built on the config (shape only, no weights).
func buildLayout(ctx context.Context, testdata, name string) (*ckptLayout, error) {
	bc, ok := benchConfigs[name]
	if !ok {
		return nil, fmt.Errorf("--config %q: want %s", name, configNames())
	}
	l := &ckptLayout{name: name, src: filepath.Join(testdata, bc.fixture), derived: bc.textConfig != nil}
	var err error
	if l.derived {
		if l.configJSON, err = deriveConfigJSON(filepath.Join(l.src, transformers.ConfigName), bc.textConfig); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", name, err)
		}
		m, err := transformers.ParseJSON(l.configJSON, name+" derived config.json")
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", name, err)
		}
		l.cfg, err = blip2.NewBlip2ConfigFromDict(m, name+" derived config.json")
	} else {
		l.cfg, err = blip2.Blip2ConfigFromPretrained(ctx, l.src)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	m, err := blip2.NewShapeOnly(l.cfg)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	l.params = m.ParameterCounts()
	keys := m.StateDictKeys()
	if l.derived {
		l.shards = hubShardLayout(keys, hubMaxShardBytes)
		return l, nil
	}
	idx, err := weights.ReadIndex(filepath.Join(l.src, weights.SafetensorsIndexName))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	l.shards = map[string][]tensorSpec{}
	seen := map[string]bool{}
	for _, k := range keys {
		shard, inIndex := idx.WeightMap[k.Name]
		if !inIndex {
			if !isTiedCopy(k) {
				return nil, fmt.Errorf("checkpoint %s: key %s is not in %s", name, k.Name, idx.Path)
			}
			continue // tied key the hub checkpoint omits
		}
		seen[k.Name] = true
		l.shards[shard] = append(l.shards[shard], tensorSpec{k.Name, k.Shape})
	}
	for k := range idx.WeightMap {
		if !seen[k] {
			return nil, fmt.Errorf("checkpoint %s: %s lists %s, which the model does not have", name, idx.Path, k)
		}
	}
	return l, nil
}

// isTiedCopy reports whether k shares another key's parameter (the hub's checkpoints omit it).
func isTiedCopy(k weights.KeyInfo) bool {
	return k.TiedTo != "" && k.TiedTo != k.Name
}

// deriveConfigJSON returns the config.json at path with the text_config fields of text replaced
// (the other values kept as written, 0.0 stays 0.0).
func deriveConfigJSON(path string, text map[string]any) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tc, ok := m["text_config"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no text_config object", path)
	}
	for k, v := range text {
		tc[k] = v
	}
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // "prefix": "</s>" as written
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return []byte(out.String()), nil
}

// hubShardLayout splits the model's keys into model-0000N-of-0000M.safetensors files as
// save_pretrained does (huggingface_hub's split_torch_state_dict_into_shards): in state_dict
// order, tied copies left out, a new shard started when the next tensor would take the current one
// over maxBytes of float32 (the hub's BLIP-2 checkpoints are float32; a tensor larger than
// maxBytes gets a shard of its own). The same names serve every stored dtype.
func hubShardLayout(keys []weights.KeyInfo, maxBytes int64) map[string][]tensorSpec {
	var groups [][]tensorSpec
	var cur []tensorSpec
	var curBytes int64
	for _, k := range keys {
		if isTiedCopy(k) {
			continue
		}
		n := int64(tensor.Numel(k.Shape)) * int64(tensor.F32.Size())
		sp := tensorSpec{k.Name, k.Shape}
		if n > maxBytes {
			groups = append(groups, []tensorSpec{sp})
			continue
		}
		if curBytes+n > maxBytes && len(cur) > 0 {
			groups = append(groups, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, sp)
		curBytes += n
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	out := make(map[string][]tensorSpec, len(groups))
	for i, g := range groups {
		out[fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(groups))] = g
	}
	return out
}

// ensureCheckpoint returns the checkpoint folder of c, writing it first when absent or incomplete.
func ensureCheckpoint(ctx context.Context, c *ckptFlags) (*ckptInfo, error) {
	l, err := buildLayout(ctx, c.testdata, c.config)
	if err != nil {
		return nil, err
	}
	dt, err := parseDType(c.dtype)
	if err != nil {
		return nil, err
	}
	src := l.src
	dir := filepath.Join(c.cache, c.config+"-"+dtypeName(dt))
	if l.derived {
		fmt.Printf("%s: config DERIVED in code from %s/config.json (text_config replaced, see cmd/bench/ckpt.go); no real file of this model is in the repository\n", c.config, src)
	}
	fmt.Printf("%s: %d parameters (%.3f B: vision %d, Q-Former %d, projection %d, language model %d)\n",
		c.config, l.params.Total, float64(l.params.Total)/1e9, l.params.Vision, l.params.QFormer, l.params.Projection, l.params.LanguageModel)
	shards := l.shards
	sizes := map[string]int64{}
	var total int64
	for _, specs := range shards {
		for _, sp := range specs {
			n := int64(tensor.Numel(sp.shape)) * int64(dt.Size())
			sizes[sp.name] = n
			total += n
		}
	}
	info := &ckptInfo{Dir: dir, Config: c.config, DType: dt, Bytes: total, Sizes: sizes, Params: l.params.Total, Derived: l.derived}
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
		if name == transformers.ConfigName && l.configJSON != nil {
			data = l.configJSON
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
