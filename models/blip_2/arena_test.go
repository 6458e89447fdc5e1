//go:build !race

// (The race detector makes sync.Pool drop items at random, so the kernels' pools allocate anew.)

package blip2

import (
	"context"
	"testing"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/internal/heapstat"
)

// The vision encoder and the Q-Former reuse their layers' buffers (tensor.Arena): each layer past
// the first adds only small headers to what a forward allocates (tens of KB), where fresh buffers
// would add 1-2 MB per layer at these sizes. The Q-Former's cross-attention keys/values,
// computed for all its layers up front, do grow with the layer count and are counted out.
func TestLayerBuffersReused(t *testing.T) {
	ctx := context.Background()
	vision := func(layers int) uint64 {
		c := NewBlip2VisionConfig()
		c.HiddenSize, c.ImageSize, c.IntermediateSize, c.NumAttentionHeads, c.NumHiddenLayers = 256, 112, 1024, 4, layers
		m := randomVision(t, c, 7)
		x := ramp(17, 2, 3, 112, 112)
		var err error
		return heapstat.Steady(func() {
			_, err = m.Forward(ctx, x, VisionOptions{})
			require.NoError(t, err)
		})
	}
	qformer := func(layers int) uint64 {
		c := NewBlip2QFormerConfig()
		c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads, c.NumHiddenLayers, c.EncoderHiddenSize = 256, 1024, 4, layers, 96
		m := randomQFormer(t, c, 9)
		q, img := tensor.New(2, 32, 256), ramp(13, 2, 65, 96)
		var err error
		in := &QFormerInput{QueryEmbeds: q, EncoderHiddenStates: img}
		return heapstat.Steady(func() {
			_, err = m.Forward(ctx, in)
			require.NoError(t, err)
		})
	}
	// cross-attention on every 2nd layer: 7 more pairs of [2, 65, 256] float32 keys/values
	kv := map[string]uint64{"vision": 0, "qformer": 7 * 2 * 2 * 65 * 256 * 4}
	for _, name := range []string{"vision", "qformer"} {
		f := map[string]func(int) uint64{"vision": vision, "qformer": qformer}[name]
		two, sixteen := f(2), f(16)
		perLayer := (int64(sixteen) - int64(two) - int64(kv[name])) / 14
		t.Logf("%s: %d bytes allocated with 2 layers, %d with 16: %d per extra layer", name, two, sixteen, perLayer)
		// fresh buffers: ~2 MB (vision) and ~1 MB (Q-Former) per layer; one packing buffer that a
		// pool could not hand back (2.3 MB) adds ~160 KB per layer here
		require.Less(t, perLayer, int64(256<<10), "%s: allocation grows with the layer count", name)
	}
}
