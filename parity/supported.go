package parity

// SupportedKinds is the declared set of case kinds whose every case must pass (OK or DIVERGED) in
// `go test ./parity/`. It only grows; it now holds every kind FORMAT.md lists.
func SupportedKinds() []string {
	return []string{
		"config",
		"weight_keys",
		"tokenizer",
		"image_processor",
		"processor",
		"vision_model",
		"blip2_model",
		"conditional_generation_forward",
		"lm_forward",
		"generate",
		"end_to_end",
	}
}
