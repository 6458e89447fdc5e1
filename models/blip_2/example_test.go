package blip2_test

import (
	"context"
	"fmt"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// Load a checkpoint folder and run the image-conditioned forward pass (Python:
// Blip2ForConditionalGeneration.from_pretrained(path)(pixel_values=..., input_ids=...)).
func ExampleFromPretrained() {
	ctx := context.Background()
	m, err := blip2.FromPretrained(ctx, "../../parity/testdata/blip2-opt")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	pixels := tensor.New(1, 3, 56, 56) // Blip2Processor output in real use
	// expanded image-token mode: num_query_tokens <image> ids, then BOS and the prompt
	ids := []int{}
	for range m.Config.NumQueryTokens {
		ids = append(ids, *m.Config.ImageTokenIndex)
	}
	ids = append(ids, 2, 100, 200)
	out, err := m.Forward(ctx, &blip2.Blip2Input{PixelValues: pixels, TextInput: blip2.TextInput{InputIDs: [][]int{ids}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits", out.Logits.Shape)
	fmt.Println("query outputs", out.QFormerOutputs.LastHiddenState.Shape)
	// Output:
	// logits [1 9 50272]
	// query outputs [1 6 32]
}

// Inspect a real checkpoint's module tree without loading weights (construction on the meta device).
func ExampleNewShapeOnly() {
	ctx := context.Background()
	cfg, err := blip2.Blip2ConfigFromPretrained(ctx, "../../parity/testdata/real-blip2-opt-2.7b")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := blip2.NewShapeOnly(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := m.ParameterCounts()
	fmt.Println(len(m.StateDictKeys()), "keys")
	fmt.Printf("vision %d, qformer %d, projection %d, language model %d, total %d\n", c.Vision, c.QFormer, c.Projection, c.LanguageModel, c.Total)
	// Output:
	// 1248 keys
	// vision 985952256, qformer 105162240, projection 1968640, language model 2651678720, total 3744761856
}
