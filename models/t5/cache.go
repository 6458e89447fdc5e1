package t5

import (
	"fmt"

	"github.com/gotransformers/gotransformers/transformers/nn"
)

// Cache is the decoder cache of one generation run (transformers' EncoderDecoderCache): per
// decoder block, the self-attention keys and values [B, H, T, d_kv] that grow by appending (amortized
// capacity, so a step copies only its own keys), the cross-attention keys and values [B, H, S, d_kv]
// computed once from the encoder output by the first call, and the encoder attention mask. A Cache
// belongs to one run and one goroutine; the model holds no per-call state and may be shared.
//
// How the generation engine drives it:
//
//	(d) encode once: enc, err := m.Encode(ctx, &t5.Input{InputIDs: ids, AttentionMask: mask})
//	    (for beams, expand the rows first: run Encode on the expanded batch, or encode once and
//	    repeat rows of enc.LastHiddenState and of the mask).
//	(a) prefill: c := t5.NewCache(); out, err := m.Forward(ctx, &t5.Input{EncoderOutputs: enc,
//	    AttentionMask: mask, DecoderInputIDs: [B][1]{decoder_start_token_id}, Cache: c,
//	    LogitsToKeep: 1}) -> out.Logits [B, 1, V]; the cache now holds the cross-attention keys and
//	    the encoder mask.
//	(b) step: m.Forward(ctx, &t5.Input{DecoderInputIDs: next [B][1], Cache: c, LogitsToKeep: 1});
//	    EncoderOutputs and AttentionMask may be passed again or left nil (the cache has what it
//	    needs); DecoderAttentionMask, when given, is [B, c.Len()+1].
//	(c) beams: c.Reorder(rows) makes row i of the cache (self and cross keys, encoder mask) row
//	    rows[i] of the old one; rows may repeat and may change the batch size.
type Cache struct {
	self, cross []*nn.KVBuffer
	encMask     [][]int
	batch       int
}

// NewCache returns an empty cache; the first Forward sizes it.
func NewCache() *Cache { return &Cache{} }

// Len is the number of cached decoder positions (past_key_values_length).
func (c *Cache) Len() int {
	if c == nil || len(c.self) == 0 {
		return 0
	}
	return c.self[0].Len()
}

// Batch is the number of rows the cache holds (0 before the first Forward).
func (c *Cache) Batch() int { return c.batch }

func (c *Cache) crossReady() bool { return len(c.cross) > 0 && c.cross[0].Len() > 0 }

// Reorder makes row i of the cache a copy of row rows[i] (transformers' _reorder_cache).
// len(rows) becomes the batch size. On an empty cache it does nothing.
func (c *Cache) Reorder(rows []int) error {
	if c == nil {
		return fmt.Errorf("t5: cache reorder: nil cache")
	}
	if len(rows) == 0 {
		return fmt.Errorf("t5: cache reorder: no rows")
	}
	if len(c.self) == 0 {
		return nil // nothing cached yet: the first Forward sizes the cache
	}
	for i, r := range rows {
		if r < 0 || r >= c.batch {
			return fmt.Errorf("t5: cache reorder: rows[%d] = %d outside the batch of %d", i, r, c.batch)
		}
	}
	identity := len(rows) == c.batch
	for i, r := range rows {
		identity = identity && r == i
	}
	if identity {
		return nil
	}
	for i := range c.self {
		c.self[i].Reorder(rows)
		c.cross[i].Reorder(rows)
	}
	if c.encMask != nil {
		m := make([][]int, len(rows))
		for i, r := range rows {
			m[i] = c.encMask[r]
		}
		c.encMask = m
	}
	c.batch = len(rows)
	return nil
}

// prepare sizes an empty cache for cfg and checks the batch of a filled one.
func (c *Cache) prepare(cfg *T5Config, bsz, t int) error {
	if len(c.self) == 0 {
		c.self = make([]*nn.KVBuffer, cfg.NumDecoderLayers)
		c.cross = make([]*nn.KVBuffer, cfg.NumDecoderLayers)
		for i := range c.self {
			c.self[i] = nn.NewKVBuffer(bsz, cfg.NumHeads, cfg.DKV, t+16)
			c.cross[i] = nn.NewKVBuffer(bsz, cfg.NumHeads, cfg.DKV, 1)
		}
		c.batch = bsz
		return nil
	}
	if len(c.self) != cfg.NumDecoderLayers || c.self[0].Heads() != cfg.NumHeads || c.self[0].HeadDim() != cfg.DKV {
		return fmt.Errorf("t5: cache was filled by another model (%d layers)", len(c.self))
	}
	if c.batch != bsz {
		return fmt.Errorf("t5: cache holds %d rows, input has %d (Reorder the cache first)", c.batch, bsz)
	}
	return nil
}
