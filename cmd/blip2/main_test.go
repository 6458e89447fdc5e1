package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	blip2 "github.com/gotransformers/gotransformers/models/blip_2"
	"github.com/gotransformers/gotransformers/processing/image"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

const testdata = "../../parity/testdata"

// runCLI runs the command in-process.
func runCLI(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// fixtureCase is the part of a cases.json case these tests read.
type fixtureCase struct {
	ID             string                     `json:"id"`
	Kind           string                     `json:"kind"`
	Inputs         map[string]json.RawMessage `json:"inputs"`
	GenerateKwargs map[string]any             `json:"generate_kwargs"`
	ExpectedIDs    [][]int                    `json:"expected_ids"`
	ExpectedText   []string                   `json:"expected_text"`
	DecodeError    string                     `json:"decode_error"`
	Outputs        []struct {
		Name   string  `json:"name"`
		Tensor string  `json:"tensor"`
		Shape  []int   `json:"shape"`
		ATol   float64 `json:"atol"`
	} `json:"outputs"`
	Expected map[string]json.RawMessage `json:"expected"`
}

func loadCases(t *testing.T, folder string) map[string]*fixtureCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, folder, "cases", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []*fixtureCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", folder, err)
	}
	m := map[string]*fixtureCase{}
	for _, c := range f.Cases {
		m[c.ID] = c
	}
	return m
}

func (c *fixtureCase) str(t *testing.T, key string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(c.Inputs[key], &s); err != nil {
		t.Fatalf("%s: inputs.%s: %v", c.ID, key, err)
	}
	return s
}

// endToEnd groups a folder's end_to_end cases of one prefix by prompt text; cases whose decode
// raises in Python are returned apart.
func endToEnd(t *testing.T, cases map[string]*fixtureCase, prefix string) (byText map[string][]*fixtureCase, decodeErr []*fixtureCase) {
	t.Helper()
	byText = map[string][]*fixtureCase{}
	for id, c := range cases {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		if c.DecodeError != "" {
			decodeErr = append(decodeErr, c)
			continue
		}
		if !reflect.DeepEqual(c.GenerateKwargs, map[string]any{"max_new_tokens": float64(10)}) {
			t.Fatalf("%s: generate_kwargs %v, want max_new_tokens 10 only", id, c.GenerateKwargs)
		}
		text := c.str(t, "text")
		byText[text] = append(byText[text], c)
	}
	if len(byText) == 0 && len(decodeErr) == 0 {
		t.Fatalf("no %s cases", prefix)
	}
	return byText, decodeErr
}

// promptArgs returns the command and flags that build prompt text: caption for "", vqa for
// "Question: Q Answer:", caption --prompt otherwise.
func promptArgs(text string) []string {
	var q string
	if text == "" {
		return []string{"caption"}
	}
	if n, _ := fmt.Sscanf(text, "Question: %s", &q); n == 1 && strings.HasSuffix(text, " Answer:") && !strings.HasSuffix(text, "Short answer:") {
		return []string{"vqa", "--question", strings.TrimSuffix(strings.TrimPrefix(text, "Question: "), " Answer:")}
	}
	return []string{"caption", "--prompt", text}
}

// TestEndToEndFixtures runs caption / vqa on every end_to_end case of the BLIP-2 fixture folders (all
// images of one prompt in one invocation): the caption cases with --json (ids = expected_ids, text =
// expected_text), the vqa cases as plain lines (each = expected_text).
func TestEndToEndFixtures(t *testing.T) {
	for _, folder := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5"} {
		cases := loadCases(t, folder)
		for _, prefix := range []string{"end_to_end/caption/", "end_to_end/vqa/"} {
			byText, _ := endToEnd(t, cases, prefix)
			for text, cs := range byText {
				t.Run(folder+"/"+strings.Trim(prefix, "/")+"/"+text, func(t *testing.T) {
					args := append(promptArgs(text), "--model", filepath.Join(testdata, folder), "--max-new-tokens", "10")
					var imgs []string
					for _, c := range cs {
						imgs = append(imgs, filepath.Join(testdata, "inputs", c.str(t, "image")))
					}
					if strings.HasSuffix(prefix, "caption/") {
						checkJSONLines(t, args, imgs, cs, text)
						return
					}
					// plain text lines
					code, out, errOut := runCLI(t, nil, append(args, imgs...)...)
					if code != 0 {
						t.Fatalf("exit %d: %s", code, errOut)
					}
					lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
					if len(lines) != len(cs) {
						t.Fatalf("%d lines for %d images:\n%s", len(lines), len(cs), out)
					}
					for i, c := range cs {
						if lines[i] != c.ExpectedText[0] {
							t.Errorf("%s: printed %q, want %q", c.ID, lines[i], c.ExpectedText[0])
						}
					}
				})
			}
		}
	}
}

// checkJSONLines runs the command with --json on imgs and compares every line with its case: ids,
// text, image and prompt.
func checkJSONLines(t *testing.T, args, imgs []string, cs []*fixtureCase, prompt string) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, append(append(args, "--json"), imgs...)...)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	i := 0
	for ; sc.Scan(); i++ {
		var r generateResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("--json line %d: %v", i, err)
		}
		if i >= len(cs) {
			break
		}
		c := cs[i]
		if !reflect.DeepEqual(r.IDs, c.ExpectedIDs[0]) || r.Text != c.ExpectedText[0] || r.Image != filepath.ToSlash(imgs[i]) || r.Prompt != prompt {
			t.Errorf("%s: --json %+v, want ids %v text %q", c.ID, r, c.ExpectedIDs[0], c.ExpectedText[0])
		}
	}
	if i != len(cs) {
		t.Errorf("--json: %d lines for %d images", i, len(cs))
	}
}

// TestBeamAndStdin runs the end_to_end/beam case (num_beams=3) with the image read from stdin.
func TestBeamAndStdin(t *testing.T) {
	for _, folder := range []string{"blip2-opt", "blip2-opt-legacy-fp16", "blip2-flan-t5"} {
		for id, c := range loadCases(t, folder) {
			if !strings.HasPrefix(id, "end_to_end/beam/") {
				continue
			}
			if !reflect.DeepEqual(c.GenerateKwargs, map[string]any{"max_new_tokens": float64(10), "num_beams": float64(3)}) {
				t.Fatalf("%s: generate_kwargs %v", id, c.GenerateKwargs)
			}
			img, err := os.ReadFile(filepath.Join(testdata, "inputs", c.str(t, "image")))
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, img, append(promptArgs(c.str(t, "text")), "--model", filepath.Join(testdata, folder), "--max-new-tokens", "10", "--num-beams", "3", "--json", "-")...)
			if code != 0 {
				t.Fatalf("%s/%s: exit %d: %s", folder, id, code, errOut)
			}
			var r generateResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%s/%s: %v: %s", folder, id, err, out)
			}
			if !reflect.DeepEqual(r.IDs, c.ExpectedIDs[0]) || r.Text != c.ExpectedText[0] || r.Image != "<stdin>" {
				t.Errorf("%s/%s: got %+v, want ids %v text %q", folder, id, r, c.ExpectedIDs[0], c.ExpectedText[0])
			}
		}
	}
}

// TestDecodeErrorCases: where Python's batch_decode raises (ids beyond len(tokenizer)), the command
// fails with a message naming the image and the id, exit status 1.
func TestDecodeErrorCases(t *testing.T) {
	cases := loadCases(t, "blip2-opt")
	_, bad := endToEnd(t, cases, "end_to_end/vqa/")
	if len(bad) == 0 {
		t.Fatal("blip2-opt has no vqa case with decode_error")
	}
	for _, c := range bad {
		img := filepath.Join(testdata, "inputs", c.str(t, "image"))
		code, out, errOut := runCLI(t, nil, append(promptArgs(c.str(t, "text")), "--model", filepath.Join(testdata, "blip2-opt"), "--max-new-tokens", "10", img)...)
		if code != exitFail || out != "" || !strings.Contains(errOut, img) || !strings.Contains(errOut, "not in vocabulary") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", c.ID, code, out, errOut)
		}
	}
}

// TestErrors: every error is one clear line on stderr and a non-zero exit status.
func TestErrors(t *testing.T) {
	opt := filepath.Join(testdata, "blip2-opt")
	cat := filepath.Join(testdata, "inputs", "cat.png")
	notImage := filepath.Join(testdata, "blip2-opt", "config.json")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, exitUsage, []string{"usage: blip2"}},
		{"command help", []string{"caption", "-h"}, exitOK, []string{"usage: blip2 caption", "-max-new-tokens"}},
		{"unknown command", []string{"paint"}, exitUsage, []string{`unknown command "paint"`}},
		{"missing image", []string{"caption", "--model", opt, "nope.jpg"}, exitFail, []string{"nope.jpg", "no such file"}},
		{"unreadable image", []string{"caption", "--model", opt, notImage}, exitFail, []string{notImage, "cannot decode"}},
		{"directory as image", []string{"caption", "--model", opt, testdata}, exitFail, []string{"is a directory"}},
		{"no image", []string{"caption", "--model", opt}, exitUsage, []string{"no IMAGE"}},
		{"bad flag", []string{"caption", "--colour", "red", cat}, exitUsage, []string{"colour"}},
		{"bad dtype", []string{"caption", "--model", opt, "--dtype", "int4", cat}, exitUsage, []string{`--dtype "int4"`}},
		{"bad max-new-tokens", []string{"caption", "--model", opt, "--max-new-tokens", "-1", cat}, exitUsage, []string{"--max-new-tokens -1"}},
		{"vqa without question", []string{"vqa", "--model", opt, cat}, exitUsage, []string{"--question is required"}},
		{"missing model folder", []string{"caption", "--model", "./no/such/model", cat}, exitFail, []string{"./no/such/model", "no such model folder"}},
		{"folder without config", []string{"caption", "--model", filepath.Join(testdata, "inputs"), cat}, exitFail, []string{"config.json"}},
		{"unknown model type", []string{"caption", "--model", filepath.Join(testdata, "opt"), cat}, exitFail, []string{`unknown model type "opt"`}},
		{"no weights", []string{"caption", "--model", filepath.Join(testdata, "real-blip2-opt-2.7b"), cat}, exitFail, []string{"real-blip2-opt-2.7b"}},
		{"stdin twice", []string{"caption", "--model", opt, "-", "-"}, exitUsage, []string{"more than once"}},
		{"empty stdin", []string{"caption", "--model", opt, "-"}, exitFail, []string{"<stdin>", "no data"}},
		{"features bad kind", []string{"features", "--model", opt, "--kind", "audio", cat}, exitUsage, []string{`--kind "audio"`}},
		{"features text without --text", []string{"features", "--model", opt, "--kind", "text"}, exitUsage, []string{"--text"}},
		{"features bad out", []string{"features", "--model", opt, "--out", "x.npy", cat}, exitUsage, []string{"x.npy"}},
		{"inspect with args", []string{"inspect", "--model", opt, cat}, exitUsage, []string{"no arguments"}},
		{"inspect unknown model type", []string{"inspect", "--model", filepath.Join(testdata, "flan-t5")}, exitFail, []string{`unknown model type "t5"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not contain %q", errOut, w)
				}
			}
		})
	}
}

// TestInspectRealSnapshots checks inspect's figures on the real hub snapshots against the
// fixtures' weight_keys cases (transformers' num_parameters, index coverage).
func TestInspectRealSnapshots(t *testing.T) {
	for _, tc := range []struct {
		folder            string
		total, projection int64
		mode, tokenizer   string
	}{
		{"real-blip2-opt-2.7b", 3744761856, 1968640, "expanded", "GPT2Tokenizer"},
		{"real-blip2-flan-t5-xl", 3942446592, 1574912, "legacy", "T5Tokenizer"},
	} {
		t.Run(tc.folder, func(t *testing.T) {
			cases := loadCases(t, tc.folder)
			var want struct {
				NumParameters int64 `json:"num_parameters"`
			}
			if err := json.Unmarshal(mustJSON(t, cases["weight_keys/state_dict"].Expected), &want); err != nil {
				t.Fatal(err)
			}
			if want.NumParameters != tc.total {
				t.Fatalf("fixture num_parameters %d, test table %d", want.NumParameters, tc.total)
			}
			code, out, errOut := runCLI(t, nil, "inspect", "--model", filepath.Join(testdata, tc.folder), "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var r inspectReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			parts := map[string]int64{}
			for _, p := range r.Parts {
				parts[p.Name] = p.Parameters
			}
			// vision 0.99 B; Q-Former 0.105 B with its 32 x 768 query tokens.
			wantParts := map[string]int64{"vision": 985952256, "qformer": 105137664 + 32*768, "projection": tc.projection, "language_model": tc.total - 985952256 - 105162240 - tc.projection}
			if !reflect.DeepEqual(parts, wantParts) || r.Total.Parameters != want.NumParameters {
				t.Errorf("parts %v total %d, want %v total %d", parts, r.Total.Parameters, wantParts, want.NumParameters)
			}
			if r.Total.Bytes["float32"] != 4*tc.total || r.StoredDType != "float32" || r.WeightsPresent {
				t.Errorf("bytes %v dtype %s weights %v", r.Total.Bytes, r.StoredDType, r.WeightsPresent)
			}
			if r.ImageTokenMode != tc.mode || r.Tokenizer != tc.tokenizer || r.NumQueryTokens != 32 {
				t.Errorf("mode %s tokenizer %s queries %d", r.ImageTokenMode, r.Tokenizer, r.NumQueryTokens)
			}
			// Both index files cover the tree exactly; keys absent from them are tied ones only
			// (model_keys_not_in_index_tied_to of the fixture).
			if len(r.Coverage) != 2 {
				t.Fatalf("coverage %+v, want the two index files", r.Coverage)
			}
			for _, cv := range r.Coverage {
				var exp struct {
					NumIndexKeys int                 `json:"num_index_keys"`
					TiedTo       map[string][]string `json:"model_keys_not_in_index_tied_to"`
					TotalSize    int64               `json:"metadata_total_size"`
				}
				if err := json.Unmarshal(mustJSON(t, cases["weight_keys/"+cv.Source].Expected), &exp); err != nil {
					t.Fatal(err)
				}
				var tied []string
				for k, v := range exp.TiedTo {
					tied = append(tied, k+" <- "+v[0])
				}
				if !cv.Exact || cv.Keys != exp.NumIndexKeys || cv.TotalSize != exp.TotalSize || !sameSet(cv.TiedFilled, tied) {
					t.Errorf("%s: %+v, want exact, %d keys, total_size %d, tied %v", cv.Source, cv, exp.NumIndexKeys, exp.TotalSize, tied)
				}
			}
			// The text form prints the rounded figures (rendered from the same report; the CLI's
			// text path is run in TestHubRepoIDOffline).
			var buf bytes.Buffer
			if err := printInspect(&buf, &r); err != nil {
				t.Fatal(err)
			}
			text := buf.String()
			for _, w := range []string{fmt.Sprintf("%.2f B", float64(tc.total)/1e9), "0.986 B", "0.105 B", "covers the module tree exactly"} {
				if !strings.Contains(text, w) {
					t.Errorf("inspect output lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, m map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestInspectFixtures: the stored dtype comes from the weight files, and they cover the tree.
func TestInspectFixtures(t *testing.T) {
	for folder, dtype := range map[string]string{"blip2-opt": "float32", "blip2-opt-legacy-fp16": "float16", "blip2-flan-t5": "bfloat16"} {
		code, out, errOut := runCLI(t, nil, "inspect", "--model", filepath.Join(testdata, folder), "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", folder, code, errOut)
		}
		var r inspectReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.StoredDType != dtype || !r.WeightsPresent || len(r.Coverage) == 0 || !r.Coverage[0].Exact {
			t.Errorf("%s: dtype %s weights %v coverage %+v", folder, r.StoredDType, r.WeightsPresent, r.Coverage)
		}
		if got := r.Total.Bytes[dtype]; got != r.Total.Parameters*int64(dtypeSize(dtype)) {
			t.Errorf("%s: %d bytes for %d parameters", folder, got, r.Total.Parameters)
		}
	}
}

// TestFeaturesFixture writes image, Q-Former and text features of blip2-opt with --out and compares
// them with the fixture's Blip2Model cases (same images / texts as those cases' inputs_source).
func TestFeaturesFixture(t *testing.T) {
	dir := filepath.Join(testdata, "blip2-opt")
	cases := loadCases(t, "blip2-opt")
	exp, err := weights.OpenSafetensors(filepath.Join(dir, "cases", "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	gatherIdx, _, err := exp.Int64("vocab_gather_index")
	if err != nil {
		t.Fatal(err)
	}
	imgs := []string{filepath.Join(testdata, "inputs", "cat.png"), filepath.Join(testdata, "inputs", "coffee.jpg")}
	tmp := t.TempDir()
	for _, tc := range []struct {
		kind, caseID string
		args         []string
	}{
		{"image", "blip2model/get_image_features", imgs},
		{"qformer", "blip2model/get_qformer_features", imgs},
		{"text", "blip2model/get_text_features", []string{"--text", "Question: what is shown? Answer:", "--text", "a photo of"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			out := filepath.Join(tmp, tc.kind+".safetensors")
			code, stdout, errOut := runCLI(t, nil, append([]string{"features", "--model", dir, "--kind", tc.kind, "--out", out}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("stdout %q", stdout)
			}
			got, err := weights.OpenSafetensors(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			c := cases[tc.caseID]
			n := 0
			for _, o := range c.Outputs {
				name, transform := o.Name, ""
				if i := strings.IndexByte(name, '@'); i >= 0 {
					name, transform = name[:i], name[i+1:]
				}
				if strings.HasPrefix(name, "hidden_states") {
					continue
				}
				g, err := got.Float32(name)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want, err := exp.Float32(o.Tensor)
				if err != nil {
					t.Fatal(err)
				}
				vals := g.Data
				switch transform {
				case "gather":
					vals = nil
					v := g.Shape[len(g.Shape)-1]
					for r := 0; r < len(g.Data)/v; r++ {
						for _, j := range gatherIdx {
							vals = append(vals, g.Data[r*v+int(j)])
						}
					}
				case "logsumexp":
					vals = nil
					v := g.Shape[len(g.Shape)-1]
					for r := 0; r < len(g.Data)/v; r++ {
						vals = append(vals, logSumExp(g.Data[r*v:(r+1)*v]))
					}
				}
				if len(vals) != len(want.Data) {
					t.Fatalf("%s: %d values (shape %v), want %d (shape %v)", o.Name, len(vals), g.Shape, len(want.Data), o.Shape)
				}
				maxDiff := 0.0
				for i := range vals {
					maxDiff = math.Max(maxDiff, math.Abs(float64(vals[i])-float64(want.Data[i])))
				}
				if maxDiff > o.ATol {
					t.Errorf("%s: max abs diff %g > atol %g", o.Name, maxDiff, o.ATol)
				}
				n++
			}
			if n == 0 {
				t.Fatalf("%s: nothing compared", tc.caseID)
			}
			// summary form
			code, stdout, errOut = runCLI(t, nil, append([]string{"features", "--model", dir, "--kind", tc.kind}, tc.args...)...)
			if code != 0 || !strings.Contains(stdout, "mean=") {
				t.Errorf("summary: exit %d stdout %q stderr %q", code, stdout, errOut)
			}
		})
	}
}

func logSumExp(row []float32) float32 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	return float32(m + math.Log(s))
}

// fakeHubCache lays out folder's files as the snapshot of repo in a Hugging Face cache (as Python's
// huggingface_hub writes it) and returns the cache root.
func fakeHubCache(t *testing.T, repo, folder string) string {
	t.Helper()
	root := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repoDir := filepath.Join(root, "models--"+strings.ReplaceAll(repo, "/", "--"))
	snap := filepath.Join(repoDir, "snapshots", commit)
	if err := os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(testdata, folder))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(testdata, folder, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snap, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestHubRepoIDOffline resolves --model as a hub repo id through the cache (offline): caption gives
// the fixture's text, inspect the snapshot's figures.
func TestHubRepoIDOffline(t *testing.T) {
	cache := fakeHubCache(t, "tiny-random/blip2-opt", "blip2-opt")
	c := loadCases(t, "blip2-opt")["end_to_end/caption/cat.png"]
	code, out, errOut := runCLI(t, nil, "caption", "--offline", "--cache-dir", cache, "--model", "tiny-random/blip2-opt", "--max-new-tokens", "10", filepath.Join(testdata, "inputs", "cat.png"))
	if code != 0 || out != c.ExpectedText[0]+"\n" {
		t.Errorf("caption: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, c.ExpectedText[0])
	}
	cache = fakeHubCache(t, "Salesforce/blip2-opt-2.7b", "real-blip2-opt-2.7b")
	code, out, errOut = runCLI(t, nil, "inspect", "--offline", "--cache-dir", cache) // default --model
	if code != 0 || !strings.Contains(out, "3,744,761,856") || !strings.Contains(out, "Salesforce/blip2-opt-2.7b") {
		t.Errorf("inspect: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, nil, "inspect", "--offline", "--cache-dir", t.TempDir(), "--model", "someone/absent")
	if code != exitFail || !strings.Contains(errOut, "someone/absent") || !strings.Contains(errOut, "offline") {
		t.Errorf("absent repo: exit %d, stderr %q", code, errOut)
	}
}

// TestFlanT5XLStyleLegacyWithImageTokens pins what we do with a checkpoint like the hub's
// Salesforce/blip2-flan-t5-xl: processor_config.json has num_query_tokens (the processor prepends
// the <image> ids) while config.json has no image_token_index. As transformers 4.45 (and later
// versions) do, the model takes the legacy path: the projected query outputs are concatenated in
// front of the embeddings of all input_ids, the <image> ids included (the fixture's
// real-blip2-flan-t5-xl processor/info note). Built from the blip2-flan-t5 fixture with
// image_token_index removed from config.json.
func TestFlanT5XLStyleLegacyWithImageTokens(t *testing.T) {
	src := filepath.Join(testdata, "blip2-flan-t5")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "config.json" {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["image_token_index"]; !ok {
				t.Fatal("fixture config.json has no image_token_index to remove")
			}
			delete(m, "image_token_index")
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI(t, nil, "inspect", "--model", dir, "--json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.ImageTokenMode != "legacy" || !strings.Contains(r.ImageTokenNote, "no image_token_index") || !strings.Contains(r.ImageTokenNote, "num_query_tokens 6") {
		t.Errorf("inspect: mode %q note %q", r.ImageTokenMode, r.ImageTokenNote)
	}

	ctx := context.Background()
	proc, err := blip2.Blip2ProcessorFromPretrained(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := blip2.FromPretrained(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	img, err := image.DecodeFile(filepath.Join(testdata, "inputs", "cat.png"), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := proc.Call([]*image.Image{img}, []string{"Question: what is shown? Short answer:"}, blip2.ProcessorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := in.InputIDs[0]
	for i := 0; i < 6; i++ {
		if ids[i] != 1100 {
			t.Fatalf("input_ids %v: want 6 <image> ids (1100) first", ids)
		}
	}
	merged, err := model.PrepareInputsEmbeds(ctx, &blip2.ImageInput{PixelValues: in.PixelValues}, in.InputIDs, in.AttentionMask)
	if err != nil {
		t.Fatal(err)
	}
	q := merged.Features.LanguageModelInputs
	tok, err := model.LanguageModel.EmbedTokens(in.InputIDs)
	if err != nil {
		t.Fatal(err)
	}
	d := q.Shape[2]
	if !merged.Legacy || !reflect.DeepEqual(merged.InputsEmbeds.Shape, []int{1, 6 + len(ids), d}) {
		t.Fatalf("legacy %v, embeds %v, want legacy [1 %d %d]", merged.Legacy, merged.InputsEmbeds.Shape, 6+len(ids), d)
	}
	if !reflect.DeepEqual(merged.InputsEmbeds.Data[:6*d], q.Data) || !reflect.DeepEqual(merged.InputsEmbeds.Data[6*d:], tok.Data) {
		t.Error("inputs_embeds != cat(query outputs, embeddings of all input_ids)")
	}
	if len(merged.AttentionMask[0]) != 6+len(ids) {
		t.Errorf("attention mask %v", merged.AttentionMask)
	}
	code, out, errOut = runCLI(t, nil, "vqa", "--model", dir, "--question", "what is shown?", "--max-new-tokens", "5", filepath.Join(testdata, "inputs", "cat.png"))
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("vqa: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// fakeHubServer serves folder's files as the hub repo repo (the subset of the protocol
// huggingface_hub and package hub use: /api/models/{repo}/revision/{rev} and HEAD/GET
// /{repo}/resolve/{rev}/{file}), and counts the files fetched with GET.
func fakeHubServer(t *testing.T, repo, folder string) (*httptest.Server, *sync.Map) {
	t.Helper()
	const commit = "89abcdef0123456789abcdef0123456789abcdef"
	files := map[string][]byte{}
	entries, err := os.ReadDir(filepath.Join(testdata, folder))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			b, err := os.ReadFile(filepath.Join(testdata, folder, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
	}
	var fetched sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if rev, ok := strings.CutPrefix(p, "/api/models/"+repo+"/revision/"); ok {
			if rev != "main" && rev != commit {
				w.Header().Set("X-Error-Code", "RevisionNotFound")
				w.WriteHeader(http.StatusNotFound)
				return
			}
			var sib []map[string]string
			for name := range files {
				sib = append(sib, map[string]string{"rfilename": name})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": sib})
			return
		}
		rest, ok := strings.CutPrefix(p, "/"+repo+"/resolve/")
		if !ok {
			w.Header().Set("X-Error-Code", "RepoNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, name, _ := strings.Cut(rest, "/")
		content, ok := files[name]
		if !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := sha1.Sum(content)
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("ETag", `W/"`+hex.EncodeToString(sum[:])+`"`)
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			return
		}
		fetched.Store(name, true)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(content))
	}))
	t.Cleanup(srv.Close)
	return srv, &fetched
}

// TestHubDownload: --model as a hub repo id on an empty cache downloads the repo (configs,
// tokenizer, processor and weights) through HF_ENDPOINT, captions as the fixture expects, then works
// offline from the cache; inspect fetches the index files but no weights.
func TestHubDownload(t *testing.T) {
	srv, fetched := fakeHubServer(t, "tiny-random/blip2-opt", "blip2-opt")
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_TOKEN", "")
	cache := t.TempDir()
	c := loadCases(t, "blip2-opt")["end_to_end/caption/cat.png"]
	cat := filepath.Join(testdata, "inputs", "cat.png")
	code, out, errOut := runCLI(t, nil, "caption", "--cache-dir", cache, "--model", "tiny-random/blip2-opt", "--max-new-tokens", "10", cat)
	if code != 0 || out != c.ExpectedText[0]+"\n" {
		t.Fatalf("caption: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, c.ExpectedText[0])
	}
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json", "processor_config.json"} {
		if _, ok := fetched.Load(f); !ok {
			t.Errorf("%s was not downloaded", f)
		}
	}
	srv.Close()
	code, out, errOut = runCLI(t, nil, "caption", "--offline", "--cache-dir", cache, "--model", "tiny-random/blip2-opt", "--max-new-tokens", "10", cat)
	if code != 0 || out != c.ExpectedText[0]+"\n" {
		t.Errorf("offline caption: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	srv, fetched = fakeHubServer(t, "Salesforce/blip2-flan-t5-xl", "real-blip2-flan-t5-xl")
	t.Setenv("HF_ENDPOINT", srv.URL)
	code, out, errOut = runCLI(t, nil, "inspect", "--cache-dir", t.TempDir(), "--model", "Salesforce/blip2-flan-t5-xl", "--json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Total.Parameters != 3942446592 || len(r.Coverage) != 2 || !r.Coverage[0].Exact || !r.Coverage[1].Exact {
		t.Errorf("inspect: %d parameters, coverage %+v", r.Total.Parameters, r.Coverage)
	}
	if _, ok := fetched.Load("spiece.model"); !ok {
		t.Error("spiece.model was not downloaded")
	}
}

// TestDefaultMaxNewTokens: without --max-new-tokens, caption generates up to DefaultMaxNewTokens
// new tokens (greedy, so the fixture's 10-token ids are a prefix), also when the prompt is longer
// than the language model's max_length (20); --max-new-tokens 0 falls back to that max_length,
// which then fails as generate() does in transformers 4.45.
func TestDefaultMaxNewTokens(t *testing.T) {
	dir := filepath.Join(testdata, "blip2-opt")
	c := loadCases(t, "blip2-opt")["end_to_end/caption/cat.png"]
	cat := filepath.Join(testdata, "inputs", "cat.png")
	code, out, errOut := runCLI(t, nil, "caption", "--json", "--model", dir, cat)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r generateResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := c.ExpectedIDs[0]
	if len(r.IDs) <= len(want) || len(r.IDs) > 1+DefaultMaxNewTokens || !reflect.DeepEqual(r.IDs[:len(want)], want) {
		t.Errorf("ids %v: want %v as a prefix, at most %d new tokens", r.IDs, want, DefaultMaxNewTokens)
	}
	long := strings.Repeat("a photo of ", 8) // 6 <image> + BOS + 24 tokens > max_length 20
	code, _, errOut = runCLI(t, nil, "caption", "--model", dir, "--prompt", long, cat)
	if code != 0 {
		t.Errorf("long prompt: exit %d: %s", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "caption", "--max-new-tokens", "0", "--model", dir, "--prompt", long, cat)
	if code != exitFail || !strings.Contains(errOut, "max_length") {
		t.Errorf("long prompt with --max-new-tokens 0: exit %d: %s", code, errOut)
	}
	code, out, errOut = runCLI(t, nil, "caption", "--json", "--max-new-tokens", "0", "--model", dir, cat)
	if code != 0 {
		t.Fatalf("--max-new-tokens 0: exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.IDs[:len(want)], want) {
		t.Errorf("--max-new-tokens 0: ids %v, want prefix %v", r.IDs, want)
	}
}
