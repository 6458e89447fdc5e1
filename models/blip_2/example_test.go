package blip2_test

// The Go side of docs/migration.md: every snippet of transformers' BLIP-2 documentation, run on the
// tiny random fixture models of parity/testdata (so the generated text is gibberish by design). Each
// printed value can be checked against the fixtures: captions and ids against the end_to_end cases of
// parity/testdata/<folder>/cases/cases.json, configs against parity/testdata/configs, shapes against
// the Blip2Model cases.

import (
	"context"
	"fmt"
	"log"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/models/opt"
	"github.com/gotransformers/gotransformers/models/t5"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/processing/tokenizer"
	"github.com/gotransformers/gotransformers/transformers/generation"
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// Fixture folders, relative to this package.
const (
	optModel    = "../../parity/testdata/blip2-opt"     // stands in for Salesforce/blip2-opt-2.7b
	t5Model     = "../../parity/testdata/blip2-flan-t5" // stands in for Salesforce/blip2-flan-t5-xl
	realOPT27B  = "../../parity/testdata/real-blip2-opt-2.7b"
	catPNG      = "../../parity/testdata/inputs/cat.png"
	coffeeJPG   = "../../parity/testdata/inputs/coffee.jpg"
	vqaQuestion = "Question: what is shown? Answer:"
)

// openImage is Image.open(path) (converted to RGB, as every BLIP-2 processor does).
func openImage(path string) *image.Image {
	img, err := image.DecodeFile(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	return img
}

// Python:
//
//	configuration = Blip2Config()
//	model = Blip2ForConditionalGeneration(configuration)
//	configuration = model.config
//
// A Go model built from a config alone has shapes but no weight memory (transformers' meta device).
func ExampleNewBlip2Config() {
	configuration := blip2.NewBlip2Config()
	model, err := blip2.NewShapeOnly(configuration)
	if err != nil {
		log.Fatal(err)
	}
	configuration = model.Config
	fmt.Println(configuration.ModelType(), configuration.NumQueryTokens, configuration.TextConfig.ModelType())
	fmt.Println("vision:", configuration.VisionConfig.HiddenSize, configuration.VisionConfig.NumHiddenLayers, "layers")
	fmt.Println("qformer:", configuration.QFormerConfig.HiddenSize, configuration.QFormerConfig.NumHiddenLayers, "layers")
	// Output:
	// blip-2 32 opt
	// vision: 1408 39 layers
	// qformer: 768 12 layers
}

// Python:
//
//	vision_config = Blip2VisionConfig()
//	qformer_config = Blip2QFormerConfig()
//	text_config = OPTConfig()
//	config = Blip2Config.from_vision_qformer_text_configs(vision_config, qformer_config, text_config)
//	print(config.to_json_string(use_diff=True))
//
// The printed JSON is byte for byte parity/testdata/configs/blip2_config_from_vision_qformer_text_opt.diff.json.
func ExampleFromVisionQFormerTextConfigs() {
	visionConfig := blip2.NewBlip2VisionConfig()
	qformerConfig := blip2.NewBlip2QFormerConfig()
	textConfig := opt.NewOPTConfig()
	config, err := blip2.FromVisionQFormerTextConfigs(visionConfig, qformerConfig, textConfig, 32, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(config.ToJSONString(true))
	// Output:
	// {
	//   "image_token_index": null,
	//   "initializer_factor": 1.0,
	//   "initializer_range": 0.02,
	//   "model_type": "blip-2",
	//   "num_query_tokens": 32,
	//   "qformer_config": {
	//     "model_type": "blip_2_qformer"
	//   },
	//   "text_config": {
	//     "model_type": "opt"
	//   },
	//   "transformers_version": "4.45.0.dev0",
	//   "use_decoder_only_language_model": true,
	//   "vision_config": {
	//     "model_type": "blip_2_vision_model"
	//   }
	// }
}

// Flan-T5 as the language model (as Salesforce/blip2-flan-t5-xl, whose config this builds).
func ExampleFromVisionQFormerTextConfigs_t5() {
	text := t5.NewT5Config()
	text.VocabSize, text.DModel, text.DKV, text.DFF, text.NumLayers, text.NumHeads = 32128, 2048, 64, 5120, 24, 32
	text.FeedForwardProj, text.IsGatedAct, text.DenseActFn, text.TieWordEmbeddings = "gated-gelu", true, "gelu_new", false
	imageTokenIndex := 32100
	config, err := blip2.FromVisionQFormerTextConfigs(blip2.NewBlip2VisionConfig(), blip2.NewBlip2QFormerConfig(), text, 32, &imageTokenIndex)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(config.TextConfig.ModelType(), config.UseDecoderOnlyLanguageModel, *config.ImageTokenIndex)
	// Output:
	// t5 false 32100
}

// Python:
//
//	configuration = Blip2VisionConfig()
//	model = Blip2VisionModel(configuration)
func ExampleNewBlip2VisionConfig() {
	configuration := blip2.NewBlip2VisionConfig()
	model, err := blip2.NewBlip2VisionModel(configuration, weights.NewShapeBinder())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(model.Config.HiddenSize, model.Config.ImageSize, model.Config.PatchSize)
	fmt.Println("position embeddings:", model.Embeddings.PositionEmbedding.Shape)
	// Output:
	// 1408 224 14
	// position embeddings: [1 257 1408]
}

// Python:
//
//	configuration = Blip2QFormerConfig()
//	model = Blip2QFormerModel(configuration)
func ExampleNewBlip2QFormerConfig() {
	configuration := blip2.NewBlip2QFormerConfig()
	model, err := blip2.NewBlip2QFormerModel(configuration, weights.NewShapeBinder())
	if err != nil {
		log.Fatal(err)
	}
	cross := 0
	for _, l := range model.Encoder.Layer {
		if l.Crossattention != nil {
			cross++
		}
	}
	fmt.Println(configuration.HiddenSize, len(model.Encoder.Layer), "layers,", cross, "with cross-attention to", configuration.EncoderHiddenSize, "image features")
	// Output:
	// 768 12 layers, 6 with cross-attention to 1408 image features
}

// Sizes of the real Salesforce/blip2-opt-2.7b from its config.json alone (no weights): transformers'
// model.num_parameters() is 3,744,761,856 (weight_keys/state_dict of the snapshot fixture).
func ExampleNewShapeOnly() {
	cfg, err := blip2.Blip2ConfigFromPretrained(context.Background(), realOPT27B)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.NewShapeOnly(cfg)
	if err != nil {
		log.Fatal(err)
	}
	c := model.ParameterCounts()
	fmt.Println(len(model.StateDictKeys()), "keys")
	fmt.Println("vision", c.Vision, "qformer", c.QFormer, "projection", c.Projection, "language model", c.LanguageModel)
	fmt.Println("total", c.Total)
	// Output:
	// 1248 keys
	// vision 985952256 qformer 105162240 projection 1968640 language model 2651678720
	// total 3744761856
}

// Python:
//
//	processor = Blip2Processor.from_pretrained("Salesforce/blip2-opt-2.7b")
//	inputs = processor(images=image, text="Question: what is shown? Answer:", return_tensors="pt")
//
// The ids are those of the processor/single case: 6 <image> ids (the fixture's num_query_tokens),
// BOS, then the prompt.
func ExampleBlip2ProcessorFromPretrained() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	inputs, err := processor.Call([]*image.Image{openImage(catPNG)}, []string{vqaQuestion}, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(inputs.InputIDs)
	fmt.Println(inputs.AttentionMask)
	fmt.Println(inputs.PixelValues.Shape)
	// Output:
	// [[50260 50260 50260 50260 50260 50260 2 24365 29 648 322 3406 34 24002 29]]
	// [[1 1 1 1 1 1 1 1 1 1 1 1 1 1 1]]
	// [1 3 56 56]
}

// Python:
//
//	model = Blip2VisionModel.from_pretrained(...)
//	outputs = model(pixel_values=inputs.pixel_values)
//	outputs.last_hidden_state.shape, outputs.pooler_output.shape
//
// (the vision_model/batch2 case: cat.png and coffee.jpg).
func ExampleVisionModelFromPretrained() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.VisionModelFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG), openImage(coffeeJPG)}, nil, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	outputs, err := model.Forward(ctx, inputs.PixelValues, blip2.VisionOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outputs.LastHiddenState.Shape, outputs.PoolerOutput.Shape)
	// Output:
	// [2 17 32] [2 32]
}

// Python (what Blip2Model.get_qformer_features does inside):
//
//	image_embeds = model.vision_model(pixel_values).last_hidden_state
//	query_tokens = model.query_tokens.expand(image_embeds.shape[0], -1, -1)
//	out = model.qformer(query_embeds=query_tokens, encoder_hidden_states=image_embeds)
func ExampleBlip2QFormerModel_Forward() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.Blip2ModelFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG), openImage(coffeeJPG)}, nil, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	vision, err := model.VisionModel.Forward(ctx, inputs.PixelValues, blip2.VisionOptions{})
	if err != nil {
		log.Fatal(err)
	}
	queries := model.QueryTokens.Float32() // [1, Q, D]
	queryTokens := tensor.Concat(0, queries, queries)
	out, err := model.Qformer.Forward(ctx, &blip2.QFormerInput{QueryEmbeds: queryTokens, EncoderHiddenStates: vision.LastHiddenState})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.LastHiddenState.Shape, out.PoolerOutput.Shape)
	// Output:
	// [2 6 32] [2 32]
}

// Python:
//
//	model = Blip2Model.from_pretrained("Salesforce/blip2-opt-2.7b")
//	tokenizer = AutoTokenizer.from_pretrained("Salesforce/blip2-opt-2.7b")
//	inputs = tokenizer(["Question: what is shown? Answer:", "a photo of"], padding=True, return_tensors="pt")
//	text_features = model.get_text_features(**inputs)
//
// The ids are the blip2model/get_text_features inputs (left padding, as the fixture's tokenizer).
func ExampleBlip2Model_GetTextFeatures() {
	ctx := context.Background()
	model, err := blip2.Blip2ModelFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	tok, err := tokenizer.FromPretrained(optModel)
	if err != nil {
		log.Fatal(err)
	}
	inputs, err := tok.Call([]string{vqaQuestion, "a photo of"}, tokenizer.EncodeOptions{Padding: tokenizer.PadLongest})
	if err != nil {
		log.Fatal(err)
	}
	textFeatures, err := model.GetTextFeatures(ctx, &blip2.TextInput{InputIDs: inputs.InputIDs, AttentionMask: inputs.AttentionMask})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(inputs.InputIDs)
	fmt.Println(textFeatures.Logits.Shape)
	// Output:
	// [[2 24365 29 648 322 3406 34 24002 29] [1 1 1 1 1 2 68 4594 290]]
	// [2 9 50272]
}

// Python:
//
//	processor = AutoProcessor.from_pretrained("Salesforce/blip2-opt-2.7b")
//	inputs = processor(images=image, return_tensors="pt")
//	image_outputs = model.get_image_features(**inputs)
//
// In transformers 4.45 get_image_features returns the vision model's output.
func ExampleBlip2Model_GetImageFeatures() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.Blip2ModelFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG), openImage(coffeeJPG)}, nil, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	imageOutputs, err := model.GetImageFeatures(ctx, &blip2.ImageInput{PixelValues: inputs.PixelValues})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(imageOutputs.LastHiddenState.Shape, imageOutputs.PoolerOutput.Shape)
	// Output:
	// [2 17 32] [2 32]
}

// Python:
//
//	inputs = processor(images=image, return_tensors="pt")
//	qformer_outputs = model.get_qformer_features(**inputs)
func ExampleBlip2Model_GetQFormerFeatures() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.Blip2ModelFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG), openImage(coffeeJPG)}, nil, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	qformerOutputs, err := model.GetQFormerFeatures(ctx, &blip2.ImageInput{PixelValues: inputs.PixelValues})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(qformerOutputs.LastHiddenState.Shape)
	// Output:
	// [2 6 32]
}

// Python:
//
//	processor = Blip2Processor.from_pretrained("Salesforce/blip2-opt-2.7b")
//	model = Blip2Model.from_pretrained("Salesforce/blip2-opt-2.7b", torch_dtype=torch.float16)
//	inputs = processor(images=image, text="Question: how many cats are there? Answer:", return_tensors="pt")
//	outputs = model(**inputs)
//
// Blip2Model.forward puts the 6 projected query outputs in front of the 15 prompt tokens.
func ExampleBlip2Model_Forward() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.Blip2ModelFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG)}, []string{vqaQuestion}, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	outputs, err := model.Forward(ctx, &blip2.Blip2Input{
		PixelValues: inputs.PixelValues,
		TextInput:   blip2.TextInput{InputIDs: inputs.InputIDs, AttentionMask: inputs.AttentionMask},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outputs.Logits.Shape)
	// Output:
	// [1 21 50272]
}

// The image-conditioned forward pass. Python:
//
//	model = Blip2ForConditionalGeneration.from_pretrained(path)
//	outputs = model(pixel_values=pixel_values, input_ids=input_ids)
//
// In expanded mode input_ids carry num_query_tokens <image> ids (6 in the fixture), then BOS and the
// prompt; the logits cover all 9 positions.
func ExampleBlip2ForConditionalGeneration_Forward() {
	ctx := context.Background()
	m, err := blip2.FromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	pixels := tensor.New(1, 3, 56, 56) // Blip2Processor output in real use
	ids := []int{}
	for range m.Config.NumQueryTokens {
		ids = append(ids, *m.Config.ImageTokenIndex)
	}
	ids = append(ids, 2, 100, 200)
	out, err := m.Forward(ctx, &blip2.Blip2Input{PixelValues: pixels, TextInput: blip2.TextInput{InputIDs: [][]int{ids}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logits", out.Logits.Shape)
	fmt.Println("query outputs", out.QFormerOutputs.LastHiddenState.Shape)
	// Output:
	// logits [1 9 50272]
	// query outputs [1 6 32]
}

// Image captioning (without a text prompt). Python:
//
//	processor = Blip2Processor.from_pretrained("Salesforce/blip2-opt-2.7b")
//	model = Blip2ForConditionalGeneration.from_pretrained("Salesforce/blip2-opt-2.7b")
//	inputs = processor(images=image, return_tensors="pt")
//	generated_ids = model.generate(**inputs, max_new_tokens=10)
//	generated_text = processor.batch_decode(generated_ids, skip_special_tokens=True)[0].strip()
//
// The ids and text are those of end_to_end/caption/cat.png (transformers 4.45 needs text="" here in
// expanded mode; see docs/parity.md).
func ExampleFromPretrained() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.FromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG)}, nil, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: inputs.PixelValues}, generation.WithMaxNewTokens(10))
	if err != nil {
		log.Fatal(err)
	}
	texts, err := processor.BatchDecode(out.Sequences, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Sequences[0])
	fmt.Println(texts[0])
	// Output:
	// [2 30469 30469 30469 30469 11691 11691 32249 4492 4492 4492]
	// LEDLEDLEDLED jumped jumped Fedora signed signed signed
}

// Visual question answering (prompt = question). Python:
//
//	prompt = "Question: what is shown? Answer:"
//	inputs = processor(images=image, text=prompt, return_tensors="pt")
//	generated_ids = model.generate(**inputs, max_new_tokens=10)
//	generated_text = processor.batch_decode(generated_ids, skip_special_tokens=True)[0].strip()
//
// As end_to_end/vqa/cat.png.
func ExampleBlip2ForConditionalGeneration_Generate() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.FromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG)}, []string{vqaQuestion}, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: inputs.PixelValues, InputIDs: inputs.InputIDs, AttentionMask: inputs.AttentionMask},
		generation.WithMaxNewTokens(10))
	if err != nil {
		log.Fatal(err)
	}
	texts, err := processor.BatchDecode(out.Sequences, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(texts[0])
	// Output:
	// hograms workplacessingle® auntusteritysingle581 destro
}

// Generate with options. Python:
//
//	inputs = processor(images=image, text="", return_tensors="pt")
//	generated_ids = model.generate(**inputs, max_new_tokens=10, num_beams=3)
//
// As end_to_end/beam/cat.png. Every generate keyword has an option (generation.With...), or pass
// them as JSON with generation.WithKwargs.
func ExampleBlip2ForConditionalGeneration_Generate_options() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.FromPretrained(ctx, optModel)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG)}, []string{""}, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: inputs.PixelValues, InputIDs: inputs.InputIDs, AttentionMask: inputs.AttentionMask},
		generation.WithMaxNewTokens(10), generation.WithNumBeams(3))
	if err != nil {
		log.Fatal(err)
	}
	texts, err := processor.BatchDecode(out.Sequences, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Sequences[0])
	fmt.Println(texts[0])
	// Output:
	// [2 30469 30469 30469 30469 11691 11691 32249 4492 4492 4492]
	// LEDLEDLEDLED jumped jumped Fedora signed signed signed
}

// Flan-T5 (Salesforce/blip2-flan-t5-xl style): the same calls; T5 rows start with
// decoder_start_token_id 0. As end_to_end/vqa/cat.png of blip2-flan-t5.
func ExampleBlip2ForConditionalGeneration_Generate_t5() {
	ctx := context.Background()
	processor, err := blip2.Blip2ProcessorFromPretrained(ctx, t5Model)
	if err != nil {
		log.Fatal(err)
	}
	model, err := blip2.FromPretrained(ctx, t5Model)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	inputs, err := processor.Call([]*image.Image{openImage(catPNG)}, []string{"Question: what is shown? Short answer:"}, blip2.ProcessorOptions{})
	if err != nil {
		log.Fatal(err)
	}
	out, err := model.Generate(ctx, &blip2.GenerateInput{PixelValues: inputs.PixelValues, InputIDs: inputs.InputIDs, AttentionMask: inputs.AttentionMask},
		generation.WithMaxNewTokens(10))
	if err != nil {
		log.Fatal(err)
	}
	texts, err := processor.BatchDecode(out.Sequences, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Sequences[0])
	fmt.Println(texts[0])
	// Output:
	// [0 618 260 603 29 56 376 363 380 656 97]
	// fai otherwise IMPLIEDr version functionsure YOU chang THE
}
