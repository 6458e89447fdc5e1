package weights

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// MaxIndexBytes bounds the size of a model.safetensors.index.json / pytorch_model.bin.index.json file.
const MaxIndexBytes = 64 << 20

// Index is a parsed sharded-checkpoint index (model.safetensors.index.json or
// pytorch_model.bin.index.json), as transformers' load_sharded_checkpoint reads it.
type Index struct {
	// Path is the index file's name.
	Path string
	// WeightMap maps each parameter name to its shard's file name (a plain name in the same folder).
	WeightMap map[string]string
	// Metadata is the "metadata" object as parsed JSON (nil when absent).
	Metadata map[string]any
	// TotalSize is metadata.total_size in bytes (-1 when absent).
	TotalSize int64
}

// ReadIndex reads and validates an index file without opening any shard.
func ReadIndex(path string) (*Index, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("weights: read index %s: %w", path, err)
	}
	if st.Size() > MaxIndexBytes {
		return nil, fmt.Errorf("weights: index %s: %d bytes exceeds the %d-byte limit: %w", path, st.Size(), MaxIndexBytes, ErrFormat)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: read index %s: %w", path, err)
	}
	return ParseIndex(path, data)
}

// ParseIndex validates index JSON (path is only used in messages): a JSON object with a "weight_map"
// object of string values, each a plain file name (no path separators, no "..", not absolute, no
// backslash, no NUL); "metadata" optional, and its "total_size", when present, a non-negative integer.
func ParseIndex(path string, data []byte) (*Index, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("weights: index %s: %s: %w", path, fmt.Sprintf(format, args...), ErrFormat)
	}
	if len(data) > MaxIndexBytes {
		return nil, bad("%d bytes exceeds the %d-byte limit", len(data), MaxIndexBytes)
	}
	var raw struct {
		Metadata  json.RawMessage            `json:"metadata"`
		WeightMap map[string]json.RawMessage `json:"weight_map"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, bad("not a JSON object with a weight_map: %v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}
	if raw.WeightMap == nil {
		return nil, bad("no weight_map")
	}
	idx := &Index{Path: path, WeightMap: make(map[string]string, len(raw.WeightMap)), TotalSize: -1}
	for k, v := range raw.WeightMap {
		var shard string
		if err := json.Unmarshal(v, &shard); err != nil {
			return nil, bad("weight_map[%q] is not a string", k)
		}
		if err := checkShardName(shard); err != nil {
			return nil, fmt.Errorf("weights: index %s: weight_map[%q] = %q: %w", path, k, shard, err)
		}
		idx.WeightMap[k] = shard
	}
	if len(raw.Metadata) > 0 && string(raw.Metadata) != "null" {
		d := json.NewDecoder(bytes.NewReader(raw.Metadata))
		d.UseNumber()
		if err := d.Decode(&idx.Metadata); err != nil {
			return nil, bad("metadata is not a JSON object: %v", err)
		}
		if ts, ok := idx.Metadata["total_size"]; ok && ts != nil {
			num, ok := ts.(json.Number)
			if !ok {
				return nil, bad("metadata.total_size is not a number")
			}
			n, err := num.Int64()
			if err != nil {
				// Some writers store it as a float (e.g. 1.2e10); accept integral values.
				f, ferr := num.Float64()
				if ferr != nil || f < 0 || f > 1<<62 || f != float64(int64(f)) {
					return nil, bad("metadata.total_size %s is not a byte count", num)
				}
				n = int64(f)
			}
			if n < 0 {
				return nil, bad("metadata.total_size %d is negative", n)
			}
			idx.TotalSize = n
		}
	}
	return idx, nil
}

// checkShardName accepts only a plain file name: the shard must live in the index's folder.
func checkShardName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return ErrUnsafePath
	case strings.ContainsAny(s, "/\\\x00:"):
		return ErrUnsafePath
	}
	return nil
}

// Shards lists the distinct shard file names in sorted order.
func (idx *Index) Shards() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range idx.WeightMap {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Keys lists the parameter names in sorted order.
func (idx *Index) Keys() []string {
	out := make([]string, 0, len(idx.WeightMap))
	for k := range idx.WeightMap {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
