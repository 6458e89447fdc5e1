package generation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byteDecode is a byte-level decode: token i is pieces[i]; invalid UTF-8 becomes U+FFFD, as
// tokenizers decode with errors="replace".
func byteDecode(pieces []string) DecodeFunc {
	return func(ids []int) (string, error) {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(pieces[id])
		}
		return strings.ToValidUTF8(b.String(), "\uFFFD"), nil
	}
}

var streamPieces = []string{"Hello", " w", "\xc3", "\xa9", "\n", "世", "x"}

func TestTextStreamerPieces(t *testing.T) {
	var got []string
	finals := 0
	s := NewTextStreamer(byteDecode(streamPieces), true, func(text string, final bool) error {
		if final {
			finals++
		}
		got = append(got, text)
		return nil
	})
	require.NoError(t, s.Put([][]int{{6, 6}})) // prompt: skipped
	for _, tok := range []int{0, 1, 2, 3, 1, 4, 5, 5, 6} {
		require.NoError(t, s.Put([][]int{{tok}}))
	}
	s.End()
	assert.Equal(t, []string{"Hello ", "wé ", "w\n", "世", "世", "x"}, got)
	assert.Equal(t, 1, finals)
	for _, p := range got {
		assert.True(t, utf8.ValidString(p), "piece %q splits a character", p)
		assert.NotContains(t, p, "\uFFFD")
	}
	require.Error(t, s.Put([][]int{{1}, {2}}), "batch > 1 is refused")
}

func TestTokenStreamerSeesEveryToken(t *testing.T) {
	var got [][]int
	s := NewTokenStreamer(func(tokens []int) error { got = append(got, tokens); return nil })
	f := newFake(3, [][]int{{0}, {1}}, map[string][]float64{"[0]": {0, 0, 1}, "[1]": {0, 1, 0}})
	out, err := Generate(context.Background(), f, [][]int{{0}, {1}}, Params{MaxLength: 3, Streamer: s})
	require.NoError(t, err)
	assert.Equal(t, [][]int{{2, 1}, {0, 0}}, got)
	assert.Equal(t, [][]int{{0, 2, 0}, {1, 1, 0}}, out.Sequences)
}

func TestStreamerRefusedWithBeams(t *testing.T) {
	f := newFake(3, [][]int{{0}}, nil)
	_, err := Generate(context.Background(), f, [][]int{{0}}, Params{MaxLength: 3, NumBeams: 2, Streamer: NewTokenStreamer(func([]int) error { return nil })})
	require.ErrorContains(t, err, "beam")
}

// TestIteratorStreamerCancel: a consumer reads two pieces, then cancels and walks away. Generation
// must stop within a step, End must close the channel and the generating goroutine must return.
// Run with -race.
func TestIteratorStreamerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pieces := []string{"a ", "b "}
	table := map[string][]float64{}
	f := newFake(2, [][]int{{0}}, table) // uniform: always token 0 ("a ")
	s := NewTextIteratorStreamer(ctx, byteDecode(pieces), true, 0)
	var wg sync.WaitGroup
	var genErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, genErr = Generate(ctx, f, [][]int{{0}}, Params{MaxLength: 1 << 20, Streamer: s})
	}()
	var got []string
	for p := range s.C() {
		got = append(got, p)
		if len(got) == 2 {
			cancel()
			break
		}
	}
	wg.Wait()
	assert.True(t, errors.Is(genErr, context.Canceled), "got %v", genErr)
	assert.Equal(t, []string{"a ", "a "}, got)
	assert.LessOrEqual(t, f.steps, 3, "stopped within a step of the cancellation")
	// the channel is closed: draining terminates
	for range s.C() {
	}
}

func TestIteratorStreamerFull(t *testing.T) {
	f := newFake(2, [][]int{{1}}, map[string][]float64{})
	s := NewTextIteratorStreamer(context.Background(), byteDecode([]string{"a ", "b "}), false, 64)
	out, err := Generate(context.Background(), f, [][]int{{1}}, Params{MaxLength: 4, Streamer: s})
	require.NoError(t, err)
	var text strings.Builder
	for p := range s.C() {
		text.WriteString(p)
	}
	assert.Equal(t, [][]int{{1, 0, 0, 0}}, out.Sequences)
	assert.Equal(t, "b a a a ", text.String())
}
