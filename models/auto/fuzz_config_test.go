package auto_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gotransformers/gotransformers/models/auto"
	"github.com/gotransformers/gotransformers/transformers"
)

// FuzzConfigJSON loads config.json documents from the fuzzer through AutoConfig (every model_type
// of the module: blip-2 and its vision / Q-Former parts, opt, t5). Whatever loads must validate,
// save (to_json_string, full and diff) and load again to the same to_dict. Seeds: every config of the
// fixtures (parity/testdata/*/config.json, parity/testdata/configs/*.json) and the cases below.
func FuzzConfigJSON(f *testing.F) {
	for _, s := range []string{
		`{"model_type":"opt","hidden_size":8,"num_attention_heads":2,"ffn_dim":16,"num_hidden_layers":1,"vocab_size":10,"word_embed_proj_dim":8}`,
		`{"model_type":"t5","d_model":8,"d_kv":4,"num_heads":2,"d_ff":16,"num_layers":1,"num_decoder_layers":null,"feed_forward_proj":"gated-gelu"}`,
		`{"model_type":"blip-2","num_query_tokens":2,"vision_config":{"hidden_size":8,"num_attention_heads":2,"image_size":8,"patch_size":4},"text_config":{"model_type":"t5"}}`,
		`{"model_type":"blip_2_qformer","hidden_size":8,"num_attention_heads":2,"cross_attention_frequency":1,"encoder_hidden_size":8}`,
		`{"model_type":"blip_2_vision_model","hidden_size":8,"num_attention_heads":2,"image_size":224,"patch_size":14,"layer_norm_eps":1e-5}`,
		`{"model_type":"opt","torch_dtype":"bfloat16","eos_token_id":[2,3],"id2label":{"0":"A"},"max_position_embeddings":Infinity}`,
	} {
		f.Add([]byte(s))
	}
	for _, pattern := range []string{"../../parity/testdata/*/config.json", "../../parity/testdata/configs/*.json"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := transformers.ParseJSON(data, "config.json")
		if err != nil {
			return
		}
		c, err := auto.ConfigFromDict(m, "config.json")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		d := c.ToDict()
		for _, diff := range []bool{false, true} {
			s := c.ToJSONString(diff)
			m2, err := transformers.ParseJSON([]byte(s), "saved")
			if err != nil {
				t.Fatalf("saved config does not parse: %v\n%s", err, s)
			}
			c2, err := auto.ConfigFromDict(m2, "saved")
			if err != nil {
				t.Fatalf("saved config (use_diff %v) does not load: %v\n%s", diff, err, s)
			}
			if !diff && !transformers.PyEqual(transformers.Normalize(c2.ToDict()), transformers.Normalize(d)) {
				t.Fatalf("to_dict changed through save and load:\n%s\n%s", s, c2.ToJSONString(false))
			}
		}
	})
}
