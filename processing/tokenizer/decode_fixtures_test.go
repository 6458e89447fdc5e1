package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateDecodeFixtures decodes the expected sequences of every generate / end_to_end case
// (batch_decode with and without skip_special_tokens; end_to_end texts are strip()ped) and, where
// Python raised (ids >= len(tokenizer)), expects an error.
func TestGenerateDecodeFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureRoot, "*", "cases", "cases.json"))
	checked := 0
	for _, p := range files {
		dir := filepath.Dir(filepath.Dir(p))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Cases []map[string]json.RawMessage `json:"cases"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		var tok *Tokenizer
		for _, c := range f.Cases {
			_, hasText := c["expected_text"]
			_, hasErr := c["decode_error"]
			if !hasText && !hasErr {
				continue
			}
			if tok == nil {
				tok = fixtureTokenizer(t, dir, LoadOptions{UseSlow: true})
			}
			var id, kind string
			var seqs [][]int
			_ = json.Unmarshal(c["id"], &id)
			_ = json.Unmarshal(c["kind"], &kind)
			if err := json.Unmarshal(c["expected_ids"], &seqs); err != nil {
				t.Fatalf("%s %s: expected_ids: %v", dir, id, err)
			}
			for _, v := range []struct {
				key, errKey string
				skip        bool
			}{{"expected_text", "decode_error", true}, {"expected_text_raw", "decode_error_raw", false}} {
				got, err := tok.BatchDecode(seqs, v.skip)
				if _, ok := c[v.errKey]; ok {
					if err == nil {
						t.Errorf("%s %s: decode(skip=%v) = %q, Python raised %s", filepath.Base(dir), id, v.skip, got, c[v.errKey])
					}
					checked++
					continue
				}
				var want []string
				if err := json.Unmarshal(c[v.key], &want); err != nil {
					t.Fatalf("%s %s: %s: %v", dir, id, v.key, err)
				}
				if err != nil {
					t.Errorf("%s %s: decode(skip=%v): %v", filepath.Base(dir), id, v.skip, err)
					continue
				}
				if kind == "end_to_end" && v.skip {
					for i := range got {
						got[i] = pyStrip(got[i]) // Python str.strip()
					}
				}
				if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
					t.Errorf("%s %s: decode(skip=%v) = %q, want %q", filepath.Base(dir), id, v.skip, got, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d decodes checked", checked)
	if checked < 100 {
		t.Errorf("only %d decodes checked", checked)
	}
}
