package generation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/gotransformers/gotransformers/transformers"
)

// ReadGenerationConfig reads a generation_config.json over transformers' defaults
// (GenerationConfig.from_pretrained on a file). A missing file gives an error wrapping
// fs.ErrNotExist.
func ReadGenerationConfig(path string) (*GenerationConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("generation: %s: %w", path, err)
	}
	cfg := NewGenerationConfig()
	ids := map[string]*transformers.TokenIDs{"eos_token_id": &cfg.EOSTokenID, "decoder_start_token_id": &cfg.DecoderStartTokenID}
	for k, dst := range ids {
		v, ok := raw[k]
		if !ok {
			continue
		}
		delete(raw, k)
		if string(v) == "null" {
			*dst = transformers.TokenIDs{}
			continue
		}
		list, err := intOrList(v)
		if err != nil {
			return nil, fmt.Errorf("generation: %s: %q: %w", path, k, err)
		}
		*dst = transformers.TokenIDs{IDs: list, List: len(v) > 0 && v[0] == '['}
	}
	rest, _ := json.Marshal(raw)
	if err := json.Unmarshal(rest, cfg); err != nil {
		return nil, fmt.Errorf("generation: %s: %w", path, err)
	}
	return cfg, nil
}

// IsNotExist reports whether err says a file is missing.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// ConfigFromModelConfig mirrors GenerationConfig.from_model_config: the generation attributes a
// model config carries (max_length, num_beams, ..., bos/eos/pad/decoder_start ids) over the
// defaults. It is the language model's generation config inside BLIP-2 (built from text_config).
func ConfigFromModelConfig(pc *transformers.PretrainedConfig) *GenerationConfig {
	c := NewGenerationConfig()
	if pc == nil {
		return c
	}
	c.MaxLength, c.MinLength = pc.MaxLength, pc.MinLength
	c.DoSample, c.EarlyStopping = pc.DoSample, pc.EarlyStopping
	c.NumBeams, c.NumBeamGroups, c.DiversityPenalty = pc.NumBeams, pc.NumBeamGroups, pc.DiversityPenalty
	c.Temperature, c.TopK, c.TopP, c.TypicalP = pc.Temperature, pc.TopK, pc.TopP, pc.TypicalP
	c.RepetitionPenalty, c.LengthPenalty = pc.RepetitionPenalty, pc.LengthPenalty
	c.NoRepeatNgramSize, c.EncoderNoRepeatNgramSize = pc.NoRepeatNgramSize, pc.EncoderNoRepeatNgramSize
	c.BadWordsIDs, c.NumReturnSequences = pc.BadWordsIDs, pc.NumReturnSequences
	c.OutputScores, c.ReturnDictInGenerate = pc.OutputScores, pc.ReturnDictInGenerate
	c.ForcedBOSTokenID, c.ForcedEOSTokenID = pc.ForcedBOSTokenID, pc.ForcedEOSTokenID
	c.RemoveInvalidValues, c.ExponentialDecayLengthPenalty = pc.RemoveInvalidValues, pc.ExponentialDecayLengthPenalty
	c.SuppressTokens, c.BeginSuppressTokens = pc.SuppressTokens, pc.BeginSuppressTokens
	c.BOSTokenID, c.PadTokenID = pc.BOSTokenID, pc.PadTokenID
	c.EOSTokenID = transformers.TokenIDs{IDs: append([]int(nil), pc.EOSTokenID.IDs...), List: pc.EOSTokenID.List}
	if pc.DecoderStartTokenID != nil {
		c.DecoderStartTokenID = transformers.SingleTokenID(*pc.DecoderStartTokenID)
	}
	c.FromModelConfig = true
	return c
}
