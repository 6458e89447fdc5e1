//go:build !race

// (The race detector makes sync.Pool drop items at random, so the kernels' pools allocate anew.)

package blip2

import (
	"context"
	"runtime"
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
	// two workers, whatever the machine: with more, a helper on a P whose pool is empty allocates
	// a packing buffer the first call left in another P's private slot
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const few, many = 2, 34
	// cross-attention on every 2nd layer: (many-few)/2 more pairs of [2, 65, 256] float32 keys/values
	kv := map[string]uint64{"vision": 0, "qformer": (many - few) / 2 * 2 * 2 * 65 * 256 * 4}
	for _, name := range []string{"vision", "qformer"} {
		f := map[string]func(int) uint64{"vision": vision, "qformer": qformer}[name]
		a, b := f(few), f(many)
		perLayer := (int64(b) - int64(a) - int64(kv[name])) / (many - few)
		t.Logf("%s: %d bytes allocated with %d layers, %d with %d: %d per extra layer", name, a, few, b, many, perLayer)
		// fresh buffers: ~2 MB (vision) and ~1 MB (Q-Former) per layer; one packing buffer that a
		// pool could not hand back (2.3 MB) adds ~70 KB per layer here
		require.Less(t, perLayer, int64(256<<10), "%s: allocation grows with the layer count", name)
	}
}
