package blip2_test

import (
	"context"
	"fmt"
	"log"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers/generation"
)

// Streaming a caption while it is generated (TextStreamer(tokenizer, skip_prompt=True)); pieces end
// at word boundaries and never split a character.
func ExampleBlip2ForConditionalGeneration_Generate_streaming() {
	ctx := context.Background()
	const path = "../../parity/testdata/blip2-opt"
	proc, err := blip2.LoadBlip2Processor(ctx, path, tokenizer.LoadOptions{UseSlow: true})
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.FromPretrained(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	img, err := image.DecodeFile("../../parity/testdata/inputs/cat.png", nil)
	if err != nil {
		log.Fatal(err)
	}
	in, err := proc.Call([]*image.Image{img}, []string{""}, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	streamer := generation.NewTextStreamer(func(ids []int) (string, error) { return proc.Decode(ids, true) }, true,
		func(piece string, final bool) error {
			fmt.Printf("%q\n", piece)
			return nil
		})
	_, err = model.Generate(ctx, &blip2.GenerateInput{PixelValues: in.PixelValues, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask},
		generation.WithMaxNewTokens(10), generation.WithStreamer(streamer))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// "LEDLEDLEDLED "
	// "jumped "
	// "jumped "
	// "Fedora "
	// "signed "
	// "signed "
	// "signed"
}
