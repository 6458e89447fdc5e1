package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpusDoc is one document of the golden corpus.
type corpusDoc struct {
	Name string
	Text string
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// systemCorpus lists the documents read from system files: /usr/share/common-licenses and some
// Go standard library sources. Goldens record each file's hash, so a file that differs on another
// machine is skipped, not failed.
func systemCorpus() []corpusDoc {
	var docs []corpusDoc
	lic, _ := filepath.Glob("/usr/share/common-licenses/*")
	sort.Strings(lic)
	for _, f := range lic {
		if data, err := os.ReadFile(f); err == nil && utf8.Valid(data) {
			docs = append(docs, corpusDoc{Name: "license/" + filepath.Base(f), Text: string(data)})
		}
	}
	for _, pkg := range []string{"strings", "bytes", "unicode/utf8", "fmt", "sort", "bufio", "encoding/json", "net/http", "regexp/syntax", "text/template"} {
		files, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", pkg, "*.go"))
		sort.Strings(files)
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil && utf8.Valid(data) && !strings.ContainsRune(string(data), 0) {
				docs = append(docs, corpusDoc{Name: "goroot/" + pkg + "/" + filepath.Base(f), Text: string(data)})
			}
		}
	}
	return docs
}

var corpusWords = strings.Fields(`the of and to in is was for that with as on by he at from his it an were are which this be or
has had not but first one their its new after who they have her she two been other when there all during into school time
may years more most only over city some world would where later up such used many can state about national out known
don't won't it's I'm we'll they've you're she'd café naïve façade résumé jalapeño Zürich São Ærøskøbing Łódź
Привет мир Γειά σου Κόσμε नमस्ते दुनिया مرحبا بالعالم 中文字符 日本語 かな 한국어 北京 東京タワー`)

// unicode ranges the synthetic documents draw from
var corpusRanges = [][2]rune{
	{0x20, 0x7e}, {0xa0, 0xff}, {0x100, 0x17f}, {0x180, 0x24f}, {0x300, 0x36f}, {0x370, 0x3ff},
	{0x400, 0x4ff}, {0x590, 0x5ff}, {0x600, 0x6ff}, {0x900, 0x97f}, {0xe00, 0xe7f}, {0x1100, 0x11ff},
	{0x1e00, 0x1eff}, {0x2000, 0x206f}, {0x2070, 0x209f}, {0x20a0, 0x20cf}, {0x2100, 0x214f},
	{0x2150, 0x218f}, {0x2190, 0x21ff}, {0x2460, 0x24ff}, {0x2500, 0x257f}, {0x2600, 0x26ff},
	{0x3000, 0x303f}, {0x3040, 0x309f}, {0x30a0, 0x30ff}, {0x3300, 0x33ff}, {0x4e00, 0x9fff},
	{0xac00, 0xd7a3}, {0xfb00, 0xfb4f}, {0xfe30, 0xfe4f}, {0xff00, 0xffef}, {0x1d400, 0x1d7ff},
	{0x1f300, 0x1f5ff}, {0x1f600, 0x1f64f}, {0x1f900, 0x1f9ff}, {0x1f1e6, 0x1f1ff},
}

var corpusSpaces = []string{" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u2009", "\u3000", "\u200b", "\u2028", "    ", "\t\t"}

// syntheticCorpus returns n deterministic documents mixing words, numbers, punctuation, random
// code points of many scripts, emoji sequences and whitespace runs.
func syntheticCorpus(n int) []corpusDoc {
	r := rand.New(rand.NewPCG(2024, 45))
	docs := make([]corpusDoc, n)
	for d := range docs {
		var sb strings.Builder
		size := 500 + r.IntN(6000)
		for sb.Len() < size {
			switch k := r.IntN(20); {
			case k < 8:
				w := corpusWords[r.IntN(len(corpusWords))]
				if r.IntN(6) == 0 {
					r0, n0 := utf8.DecodeRuneInString(w)
					w = strings.ToUpper(string(r0)) + w[n0:]
				}
				sb.WriteString(w)
			case k < 10:
				fmt.Fprintf(&sb, "%d", r.IntN(1<<uint(r.IntN(40)+1)))
				if r.IntN(3) == 0 {
					fmt.Fprintf(&sb, ".%d", r.IntN(1000))
				}
			case k < 12:
				sb.WriteString([]string{".", ",", "!?", "...", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "--", "(", ")", "[x]", "{}", "\"", "`", "<tag/>", "&amp;", "#", "@", "$", "%", "^", "*", "_", "+=", "=>", "//", "\\"}[r.IntN(31)])
			case k < 16:
				rg := corpusRanges[r.IntN(len(corpusRanges))]
				for m := 1 + r.IntN(8); m > 0; m-- {
					c := rg[0] + rune(r.IntN(int(rg[1]-rg[0]+1)))
					if utf8.ValidRune(c) && c != 0 {
						sb.WriteRune(c)
					}
				}
			case k < 17:
				sb.WriteString([]string{"👨\u200d👩\u200d👧\u200d👦", "👍🏽", "🇫🇷", "❤️", "e\u0301", "ﬁ", "①②", "㎏", "Ⅻ", "x²", "H₂O", "Ｆｕｌｌ"}[r.IntN(12)])
			}
			sb.WriteString(corpusSpaces[r.IntN(len(corpusSpaces))*r.IntN(2)])
		}
		docs[d] = corpusDoc{Name: fmt.Sprintf("synthetic/%03d", d), Text: sb.String()}
	}
	return docs
}

// goldenCorpus is the whole corpus: synthetic documents first, then system files.
func goldenCorpus() []corpusDoc {
	return append(syntheticCorpus(300), systemCorpus()...)
}

// TestWriteGoldenCorpus writes the corpus for testdata/goldens/gen.sh when GOLDEN_CORPUS_DIR is
// set: DIR/index.tsv (number, name, content hash) and DIR/<number>.txt.
func TestWriteGoldenCorpus(t *testing.T) {
	dir := os.Getenv("GOLDEN_CORPUS_DIR")
	if dir == "" {
		t.Skip("GOLDEN_CORPUS_DIR not set")
	}
	var idx strings.Builder
	for i, d := range goldenCorpus() {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.txt", i)), []byte(d.Text), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&idx, "%d\t%s\t%s\n", i, d.Name, shortHash(d.Text))
	}
	if err := os.WriteFile(filepath.Join(dir, "index.tsv"), []byte(idx.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
