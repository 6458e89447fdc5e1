package parity

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"sort"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// shapeOnlyBlip2 returns the folder's Blip2ForConditionalGeneration built from config.json alone
// (no weights; transformers' meta-device construction), cached per folder.
func shapeOnlyBlip2(ctx context.Context, env *Env) (*blip2.Blip2ForConditionalGeneration, error) {
	v, err := env.Cache("blip2/shape-only", func() (any, error) {
		cfg, err := blip2.Blip2ConfigFromPretrained(ctx, env.Dir)
		if err != nil {
			return nil, err
		}
		return blip2.NewShapeOnly(cfg)
	})
	if err != nil {
		return nil, err
	}
	return v.(*blip2.Blip2ForConditionalGeneration), nil
}

// wkGroups returns the tie groups of keys (root first, then the keys sharing it, in module order)
// and, per key, its group.
func wkGroups(keys []weights.KeyInfo) ([][]string, map[string][]string) {
	var roots []string
	members := map[string][]string{}
	for _, k := range keys {
		if k.TiedTo == "" || k.TiedTo == k.Name {
			continue
		}
		if _, ok := members[k.TiedTo]; !ok {
			roots = append(roots, k.TiedTo)
			members[k.TiedTo] = []string{k.TiedTo}
		}
		members[k.TiedTo] = append(members[k.TiedTo], k.Name)
	}
	pos := map[string]int{}
	for i, k := range keys {
		pos[k.Name] = i
	}
	sort.Slice(roots, func(i, j int) bool { return pos[roots[i]] < pos[roots[j]] })
	var groups [][]string
	of := map[string][]string{}
	for _, r := range roots {
		g := members[r]
		sort.SliceStable(g, func(i, j int) bool { return pos[g[i]] < pos[g[j]] })
		groups = append(groups, g)
		for _, k := range g {
			of[k] = g
		}
	}
	return groups, of
}

func wkNumel(shape []int) int64 {
	n := int64(1)
	for _, s := range shape {
		n *= int64(s)
	}
	return n
}

// wkCompare compares got with the case's "expected" object key by key (JSON values; floats to 1e-12
// relative). Keys of expected that got lacks fail.
func wkCompare(c *Case, got map[string]any) Result {
	var exp map[string]json.RawMessage
	if err := c.Get("expected", &exp); err != nil {
		return Fail("%v", err)
	}
	keys := make([]string, 0, len(exp))
	for k := range exp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	res := Result{Status: StatusOK}
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			res = Merge(res, Fail("expected.%s: not computed", k))
			continue
		}
		var want, have any
		if err := json.Unmarshal(exp[k], &want); err != nil {
			return Fail("expected.%s: %v", k, err)
		}
		b, err := json.Marshal(g)
		if err != nil {
			return Fail("expected.%s: %v", k, err)
		}
		if err := json.Unmarshal(b, &have); err != nil {
			return Fail("expected.%s: %v", k, err)
		}
		if msg := wkDiff(k, want, have); msg != "" {
			res = Merge(res, Fail("%s", msg))
		}
	}
	if res.Status == StatusOK {
		res.Msg = fmt.Sprintf("%d fields", len(keys))
	}
	return res
}

// wkDiff describes the first difference between two decoded JSON values ("" when equal).
func wkDiff(path string, want, have any) string {
	switch w := want.(type) {
	case float64:
		h, ok := have.(float64)
		if !ok || math.Abs(w-h) > 1e-12*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: got %v, want %v", path, have, want)
		}
		return ""
	case []any:
		h, ok := have.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want a list", path, have)
		}
		if len(h) != len(w) {
			return fmt.Sprintf("%s: %d entries, want %d", path, len(h), len(w))
		}
		for i := range w {
			if d := wkDiff(fmt.Sprintf("%s[%d]", path, i), w[i], h[i]); d != "" {
				return d
			}
		}
		return ""
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want an object", path, have)
		}
		for k := range h {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s: unexpected key %q", path, k)
			}
		}
		for k := range w {
			if d := wkDiff(path+"."+k, w[k], h[k]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, have) {
		return fmt.Sprintf("%s: got %v, want %v", path, have, want)
	}
	return ""
}

// runWeightKeys runs a `weight_keys` case (FORMAT.md, "Case kinds"): the state_dict of the module
// tree built from config.json alone, and the checkpoint index files against it.
func runWeightKeys(ctx context.Context, env *Env, c *Case) Result {
	m, err := shapeOnlyBlip2(ctx, env)
	if err != nil {
		return Fail("build: %v", err)
	}
	keys := m.StateDictKeys()
	groups, groupOf := wkGroups(keys)
	model := map[string]weights.KeyInfo{}
	for _, k := range keys {
		model[k.Name] = k
	}
	var indexFile string
	if c.Has("index_file") {
		if err := c.Get("index_file", &indexFile); err != nil {
			return Fail("%v", err)
		}
	}
	if indexFile == "" {
		sd := make([][]any, len(keys))
		for i, k := range keys {
			sd[i] = []any{k.Name, k.Shape, "float32"}
		}
		if groups == nil {
			groups = [][]string{}
		}
		return wkCompare(c, map[string]any{
			"state_dict":        sd,
			"num_keys":          len(keys),
			"num_parameters":    m.ParameterCounts().Total,
			"tied_groups":       groups,
			"tied_weights_keys": m.TiedWeightsKeys(),
			"buffers":           []string{},
		})
	}
	idx, err := weights.ReadIndex(filepath.Join(env.Dir, indexFile))
	if err != nil {
		return Fail("%v", err)
	}
	notInIndex := []string{}
	tiedTo := map[string][]string{}
	untied := []string{}
	for _, k := range keys {
		if _, ok := idx.WeightMap[k.Name]; ok {
			continue
		}
		notInIndex = append(notInIndex, k.Name)
		var sharing []string
		for _, o := range groupOf[k.Name] {
			if _, ok := idx.WeightMap[o]; ok && o != k.Name {
				sharing = append(sharing, o)
			}
		}
		if len(sharing) > 0 {
			tiedTo[k.Name] = sharing
		} else {
			untied = append(untied, k.Name)
		}
	}
	notInModel := []string{}
	var numel int64
	shards := map[string]int{}
	for _, name := range idx.Keys() {
		shards[idx.WeightMap[name]]++
		k, ok := model[name]
		if !ok {
			notInModel = append(notInModel, name)
			continue
		}
		numel += wkNumel(k.Shape)
	}
	got := map[string]any{
		"num_index_keys":                      len(idx.WeightMap),
		"num_model_keys":                      len(keys),
		"model_keys_not_in_index":             notInIndex,
		"model_keys_not_in_index_tied_to":     tiedTo,
		"model_keys_not_in_index_untied":      untied,
		"index_keys_not_in_model":             notInModel,
		"metadata_total_size":                 idx.TotalSize,
		"numel_of_index_keys_at_model_shapes": numel,
		"shards":                              shards,
	}
	if numel > 0 {
		got["total_size_over_numel"] = float64(idx.TotalSize) / float64(numel)
	}
	return wkCompare(c, got)
}
