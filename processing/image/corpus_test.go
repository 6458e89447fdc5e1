package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

type corpusEntry struct {
	Category string `json:"category"`
	Mode     string `json:"mode"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Format   string `json:"format"`
	SHA256   string `json:"sha256"`
	Error    string `json:"error"`
}

// knownUnsupported lists corpus categories this package refuses on purpose (Pillow decodes them):
// the test counts them and checks the error is ErrUnsupported.
var knownUnsupported = map[string]bool{}

// TestGoldenCorpus decodes every file of testdata/corpus (made by make_corpus.py with Pillow 9.4)
// and compares the RGB bytes with Pillow's (sha256). Set CORPUS_DUMP=dir to write our RGB bytes
// for a byte-level comparison.
func TestGoldenCorpus(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/manifest.json")
	if err != nil {
		t.Skip("no corpus")
	}
	var m struct {
		Files map[string]corpusEntry `json:"files"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	dump := os.Getenv("CORPUS_DUMP")
	type count struct{ ok, bad, unsupported int }
	counts := map[string]*count{}
	names := make([]string, 0, len(m.Files))
	for n := range m.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		e := m.Files[name]
		c := counts[e.Category]
		if c == nil {
			c = &count{}
			counts[e.Category] = c
		}
		img, err := DecodeFile(filepath.Join("testdata/corpus", name), nil)
		if e.Error != "" {
			if err == nil {
				t.Errorf("%s: Pillow raised %s, we decoded it", name, e.Error)
				c.bad++
			} else {
				c.ok++
			}
			continue
		}
		if err != nil {
			if knownUnsupported[e.Category] && errors.Is(err, ErrUnsupported) {
				c.unsupported++
				continue
			}
			t.Errorf("%s: %v", name, err)
			c.bad++
			continue
		}
		if dump != "" {
			os.WriteFile(filepath.Join(dump, name+".rgb"), img.Pix, 0o644)
		}
		sum := sha256.Sum256(img.Pix)
		switch {
		case img.Width != e.Width || img.Height != e.Height:
			t.Errorf("%s: size %dx%d, Pillow %dx%d", name, img.Width, img.Height, e.Width, e.Height)
			c.bad++
		case hex.EncodeToString(sum[:]) != e.SHA256:
			t.Errorf("%s (%s %dx%d): RGB bytes differ from Pillow's", name, e.Mode, e.Width, e.Height)
			c.bad++
		case img.Mode != e.Mode:
			t.Errorf("%s: mode %s, Pillow %s", name, img.Mode, e.Mode)
			c.bad++
		default:
			c.ok++
		}
	}
	cats := make([]string, 0, len(counts))
	for k := range counts {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	for _, k := range cats {
		c := counts[k]
		t.Logf("%-14s exact %4d  differ %3d  unsupported %3d", k, c.ok, c.bad, c.unsupported)
	}
}

// TestResizeGoldens compares Resize with Pillow's Image.resize for every filter over sizes
// from 1x1 to 224x224 (up- and down-scaling), goldens made by make_corpus.py.
func TestResizeGoldens(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/resize.json")
	if err != nil {
		t.Skip("no resize goldens")
	}
	var cases []struct {
		Source   string `json:"source"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
		Resample int    `json:"resample"`
		Name     string `json:"name"`
		SHA256   string `json:"sha256"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	srcs := map[string]*Image{}
	bad := 0
	for _, c := range cases {
		img := srcs[c.Source]
		if img == nil {
			img, err = DecodeFile(filepath.Join("testdata/corpus", c.Source), nil)
			if err != nil {
				t.Fatal(err)
			}
			srcs[c.Source] = img
		}
		out, err := Resize(img, c.Width, c.Height, Resampling(c.Resample))
		if err != nil {
			t.Errorf("%s -> %dx%d %s: %v", c.Source, c.Width, c.Height, c.Name, err)
			bad++
			continue
		}
		sum := sha256.Sum256(out.Pix)
		if hex.EncodeToString(sum[:]) != c.SHA256 {
			t.Errorf("%s (%dx%d) -> %dx%d %s: differs from Pillow", c.Source, img.Width, img.Height, c.Width, c.Height, c.Name)
			bad++
		}
	}
	t.Logf("resize goldens: %d/%d exact", len(cases)-bad, len(cases))
}
