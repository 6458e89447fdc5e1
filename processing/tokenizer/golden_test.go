package tokenizer

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type goldenRow struct {
	content, gpt2 string
	gpt2N         int
	t5            string
	t5N           int
}

func readGoldens(t *testing.T) map[string]goldenRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "goldens", "goldens.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]goldenRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		p := strings.Split(line, "\t")
		if len(p) != 6 {
			t.Fatalf("goldens.tsv: bad line %q", line)
		}
		g, _ := strconv.Atoi(p[3])
		t5, _ := strconv.Atoi(p[5])
		out[p[0]] = goldenRow{content: p[1], gpt2: p[2], gpt2N: g, t5: p[4], t5N: t5}
	}
	return out
}

// TestGoldens compares the BPE model with npm's gpt-3-encoder and the Unigram model with
// sentencepiece 0.1.97 on the golden corpus (testdata/goldens/gen.sh). Documents whose content
// differs on this machine (system files) are skipped and counted.
func TestGoldens(t *testing.T) {
	gold := readGoldens(t)
	bpeTok, err := LoadAuto(filepath.Join(fixtureRoot, "real-blip2-opt-2.7b"), LoadOptions{UseSlow: true})
	if err != nil {
		t.Fatal(err)
	}
	t5Tok, err := LoadAuto(filepath.Join(fixtureRoot, "real-blip2-flan-t5-xl"), LoadOptions{UseSlow: true})
	if err != nil {
		t.Fatal(err)
	}
	var docs, bytes, skipped, gpt2OK, t5OK int
	var gpt2Bad, t5Bad []string
	for _, d := range goldenCorpus() {
		g, ok := gold[d.Name]
		if !ok || g.content != shortHash(d.Text) {
			skipped++
			continue
		}
		docs++
		bytes += len(d.Text)
		var toks []string
		if _, err := bpeTok.bpe.encode(d.Text, nil, &toks, nil); err != nil {
			t.Fatal(err)
		}
		if shortHash(strings.Join(toks, "\n")) == g.gpt2 {
			gpt2OK++
		} else {
			gpt2Bad = append(gpt2Bad, d.Name+" ("+strconv.Itoa(len(toks))+" vs "+strconv.Itoa(g.gpt2N)+" tokens)")
		}
		var ids []string
		for _, p := range t5Tok.uni.encode(d.Text, nil) {
			ids = append(ids, strconv.Itoa(p.id))
		}
		if shortHash(strings.Join(ids, ",")) == g.t5 {
			t5OK++
		} else {
			t5Bad = append(t5Bad, d.Name+" ("+strconv.Itoa(len(ids))+" vs "+strconv.Itoa(g.t5N)+" ids)")
		}
	}
	t.Logf("golden corpus: %d documents, %d bytes (%d skipped: not on this machine or changed)", docs, bytes, skipped)
	t.Logf("GPT-2 BPE vs gpt-3-encoder: %d/%d documents equal", gpt2OK, docs)
	t.Logf("Unigram vs sentencepiece 0.1.97: %d/%d documents equal", t5OK, docs)
	if docs < 300 {
		t.Errorf("only %d golden documents checked", docs)
	}
	if len(gpt2Bad) > 0 {
		t.Errorf("GPT-2 mismatches: %v", gpt2Bad)
	}
	if len(t5Bad) > 0 {
		t.Errorf("T5 mismatches: %v", t5Bad)
	}
}

// TestLoadPathsAgree: the tokenizer.json and slow-file loads of the real-* folders give the same
// ids and the same decoded text on the whole golden corpus.
func TestLoadPathsAgree(t *testing.T) {
	corpus := goldenCorpus()
	if testing.Short() {
		corpus = syntheticCorpus(100)
	}
	total := 0
	for _, c := range corpus {
		total += len(c.Text)
	}
	for _, name := range []string{"real-blip2-opt-2.7b", "real-blip2-flan-t5-xl"} {
		dir := filepath.Join(fixtureRoot, name)
		slow, err := LoadAuto(dir, LoadOptions{UseSlow: true})
		if err != nil {
			t.Fatal(err)
		}
		fast, err := LoadAuto(dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if fast.bpe == nil && fast.uni == nil || slow.Len() != fast.Len() {
			t.Fatalf("%s: len %d vs %d", name, slow.Len(), fast.Len())
		}
		bad := 0
		for _, d := range corpus {
			a, err1 := slow.Encode(d.Text, true)
			b, err2 := fast.Encode(d.Text, true)
			if err1 != nil || err2 != nil || !equalIntSlices(a, b) {
				bad++
				continue
			}
			s1, err1 := slow.Decode(a, false)
			s2, err2 := fast.Decode(b, false)
			if err1 != nil || err2 != nil || s1 != s2 {
				bad++
			}
		}
		t.Logf("%s: slow files vs tokenizer.json: %d/%d documents (%d bytes) agree", name, len(corpus)-bad, len(corpus), total)
		if bad > 0 {
			t.Errorf("%s: %d documents differ between the two load paths", name, bad)
		}
	}
}

func equalIntSlices(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
