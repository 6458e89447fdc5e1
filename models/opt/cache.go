package opt

import (
	"fmt"

	"github.com/gotransformers/gotransformers/transformers/nn"
)

// Cache is the key/value cache of one generation run (transformers' DynamicCache for OPT): per
// layer, keys and values [B, H, T, head_dim] that grow by appending, with amortized capacity, so a
// decode step copies only its own keys. A Cache belongs to one run and one goroutine; the model
// itself holds no per-call state and may be shared.
//
// How the generation engine drives it:
//
//	(a) prefill: c := opt.NewCache(); out, err := m.Forward(ctx, &opt.Input{InputIDs: prompt (left
//	    padded) or InputsEmbeds: embeds, AttentionMask: mask [B, T], Cache: c, LogitsToKeep: 1})
//	    -> out.Logits [B, 1, V] are the next-token logits; c.Len() == T.
//	(b) step: append a column of ones to the mask (mask is [B, c.Len()+1]) and call
//	    m.Forward(ctx, &opt.Input{InputIDs: next [B][1], AttentionMask: mask, Cache: c,
//	    LogitsToKeep: 1}); positions continue from each row's count of ones.
//	(c) beams: c.Reorder(rows) makes row i of the cache row rows[i] of the old one (rows may repeat
//	    and may change the batch size, e.g. [0 0 0 1 1 1] to expand 2 prompts to 3 beams each);
//	    reorder the attention mask rows the same way.
type Cache struct {
	layers []*nn.KVBuffer
	batch  int
}

// NewCache returns an empty cache; the first Forward sizes it.
func NewCache() *Cache { return &Cache{} }

// Len is the number of cached positions (past_key_values_length).
func (c *Cache) Len() int {
	if c == nil || len(c.layers) == 0 {
		return 0
	}
	return c.layers[0].Len()
}

// Batch is the number of rows the cache holds (0 before the first Forward).
func (c *Cache) Batch() int { return c.batch }

// Reorder makes row i of the cache a copy of row rows[i] (transformers' _reorder_cache /
// DynamicCache.reorder_cache). len(rows) becomes the batch size. On an empty cache it does
// nothing.
func (c *Cache) Reorder(rows []int) error {
	if c == nil {
		return fmt.Errorf("opt: cache reorder: nil cache")
	}
	if len(rows) == 0 {
		return fmt.Errorf("opt: cache reorder: no rows")
	}
	if len(c.layers) == 0 {
		return nil // nothing cached yet: the first Forward sizes the cache
	}
	for i, r := range rows {
		if r < 0 || r >= c.batch {
			return fmt.Errorf("opt: cache reorder: rows[%d] = %d outside the batch of %d", i, r, c.batch)
		}
	}
	identity := len(rows) == c.batch
	for i, r := range rows {
		identity = identity && r == i
	}
	if identity {
		return nil
	}
	for _, l := range c.layers {
		l.Reorder(rows)
	}
	c.batch = len(rows)
	return nil
}

// prepare sizes an empty cache for cfg and checks the batch of a filled one.
func (c *Cache) prepare(cfg *OPTConfig, bsz, t int) error {
	if len(c.layers) == 0 {
		hd := cfg.HiddenSize / cfg.NumAttentionHeads
		c.layers = make([]*nn.KVBuffer, cfg.NumHiddenLayers)
		for i := range c.layers {
			c.layers[i] = nn.NewKVBuffer(bsz, cfg.NumAttentionHeads, hd, t+16)
		}
		c.batch = bsz
		return nil
	}
	if len(c.layers) != cfg.NumHiddenLayers || c.layers[0].Heads() != cfg.NumAttentionHeads {
		return fmt.Errorf("opt: cache was filled by another model (%d layers)", len(c.layers))
	}
	if c.batch != bsz {
		return fmt.Errorf("opt: cache holds %d rows, input has %d (Reorder the cache first)", c.batch, bsz)
	}
	return nil
}
