package blip2

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
)

const processorFixtures = "../../parity/testdata"

func repeatInt(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestBlip2ProcessorBatchRows pins our fix of transformers 4.45's batched-text bug: two texts
// with images give two rows, each with the <image> prefix before the left padding. The expected
// rows are built from the fixture's processor/batch_padding (first row) and processor/text_only
// (the second text padded alone to the same length) outputs of blip2-opt.
func TestBlip2ProcessorBatchRows(t *testing.T) {
	for _, slow := range []bool{true, false} {
		p, err := LoadBlip2Processor(context.Background(), filepath.Join(processorFixtures, "blip2-opt"), tokenizer.LoadOptions{UseSlow: slow})
		require.NoError(t, err)
		require.Equal(t, 50260, p.ImageTokenID)
		require.NotNil(t, p.NumQueryTokens)
		require.Equal(t, 6, *p.NumQueryTokens)
		img := image.NewImage(4, 4)
		out, err := p.Call([]*image.Image{img, img}, []string{"Question: what is shown? Answer:", "a photo of"},
			ProcessorOptions{Text: tokenizer.EncodeOptions{Padding: tokenizer.PadLongest}})
		require.NoError(t, err)
		require.Len(t, out.InputIDs, 2)
		prefix := repeatInt(50260, 6)
		require.Equal(t, append(append([]int{}, prefix...), 2, 24365, 29, 648, 322, 3406, 34, 24002, 29), out.InputIDs[0])
		require.Equal(t, append(append([]int{}, prefix...), 1, 1, 1, 1, 1, 2, 68, 4594, 290), out.InputIDs[1])
		require.Equal(t, append(repeatInt(1, 6), 0, 0, 0, 0, 0, 1, 1, 1, 1), out.AttentionMask[1])
		require.Equal(t, []int{2, 3, 56, 56}, out.PixelValues.Shape) // preprocessor_config.json size

		dec, err := p.BatchDecode(out.InputIDs, true)
		require.NoError(t, err)
		require.Equal(t, []string{"Question: what is shown? Answer:", "a photo of"}, dec)
	}
}

// TestBlip2ProcessorLegacy: without num_query_tokens no <image> ids are inserted (fixture
// blip2-opt-legacy-fp16 processor/single).
func TestBlip2ProcessorLegacy(t *testing.T) {
	p, err := Blip2ProcessorFromPretrained(context.Background(), filepath.Join(processorFixtures, "blip2-opt-legacy-fp16"))
	require.NoError(t, err)
	require.Nil(t, p.NumQueryTokens)
	out, err := p.Call([]*image.Image{image.NewImage(3, 5)}, []string{"Question: what is shown? Answer:"}, ProcessorOptions{})
	require.NoError(t, err)
	require.Equal(t, [][]int{{2, 24365, 29, 648, 322, 3406, 34, 24002, 29}}, out.InputIDs)
	require.Equal(t, [][]int{repeatInt(1, 9)}, out.AttentionMask)
}

// TestBlip2ProcessorT5Expanded: real-blip2-flan-t5-xl processor/vqa (32 <image> ids = 32100,
// then the T5 tokens and </s>), from both tokenizer paths.
func TestBlip2ProcessorT5Expanded(t *testing.T) {
	for _, slow := range []bool{true, false} {
		p, err := LoadBlip2Processor(context.Background(), filepath.Join(processorFixtures, "real-blip2-flan-t5-xl"), tokenizer.LoadOptions{UseSlow: slow})
		require.NoError(t, err)
		out, err := p.Call([]*image.Image{image.NewImage(2, 2)}, []string{"Question: what is shown? Short answer:"}, ProcessorOptions{})
		require.NoError(t, err)
		want := append(repeatInt(32100, 32), 11860, 10, 125, 19, 2008, 58, 7110, 1525, 10, 1)
		require.Equal(t, [][]int{want}, out.InputIDs)
		require.Equal(t, 32101, p.Tokenizer.Len())
	}
}

func TestBlip2ProcessorErrors(t *testing.T) {
	_, err := NewBlip2Processor(nil, nil, nil)
	require.Error(t, err)
	p, err := Blip2ProcessorFromPretrained(context.Background(), filepath.Join(processorFixtures, "blip2-opt"))
	require.NoError(t, err)
	_, err = p.Call(nil, nil, ProcessorOptions{})
	require.Error(t, err)
	_, err = Blip2ProcessorFromPretrained(context.Background(), filepath.Join(processorFixtures, "no-such-folder"))
	require.Error(t, err)
	_, err = p.Decode([]int{1 << 30}, false)
	require.ErrorIs(t, err, tokenizer.ErrUnknownID)
}
