package generation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"unicode/utf8"
)

// Streamer receives tokens while they are generated (transformers' BaseStreamer). Generate calls Put
// once with the prompt rows, then once per step with one token per row ([B][1]), and End exactly
// once when it returns (also on error or cancellation). An error from Put stops generation.
type Streamer interface {
	Put(tokens [][]int) error
	End()
}

// StreamerFunc adapts a function receiving each step's new tokens (one per row) to a Streamer; the
// prompt is not passed.
type StreamerFunc func(tokens []int) error

type funcStreamer struct {
	f       StreamerFunc
	started bool
}

// NewTokenStreamer returns a Streamer calling f with every generated token (one per row).
func NewTokenStreamer(f StreamerFunc) Streamer { return &funcStreamer{f: f} }

func (s *funcStreamer) Put(tokens [][]int) error {
	if !s.started {
		s.started = true
		return nil
	}
	col := make([]int, len(tokens))
	for i, r := range tokens {
		if len(r) != 1 {
			return errors.New("generation: streamer expects one token per row")
		}
		col[i] = r[0]
	}
	return s.f(col)
}

func (s *funcStreamer) End() {}

// DecodeFunc turns token ids into text (a tokenizer's decode).
type DecodeFunc func(ids []int) (string, error)

// TextStreamer mirrors transformers' TextStreamer for one row: it decodes the tokens so far and
// passes on text as soon as it is stable — at a newline, after the last space, or after a CJK
// character — and the rest at the end. A piece never ends inside a multi-byte character (text ending
// in U+FFFD, the sign of an incomplete byte sequence, is held back until more tokens arrive).
type TextStreamer struct {
	decode     DecodeFunc
	onText     func(text string, final bool) error
	skipPrompt bool

	started  bool
	cache    []int
	printLen int
}

// NewTextStreamer returns a TextStreamer. skipPrompt drops the prompt (TextStreamer(skip_prompt=True));
// onText receives every piece, final=true on the last (possibly empty) one.
func NewTextStreamer(decode DecodeFunc, skipPrompt bool, onText func(text string, final bool) error) *TextStreamer {
	return &TextStreamer{decode: decode, onText: onText, skipPrompt: skipPrompt}
}

// Put adds tokens of the single row.
func (s *TextStreamer) Put(tokens [][]int) error {
	if len(tokens) > 1 {
		return errors.New("generation: TextStreamer only supports batch size 1")
	}
	first := !s.started
	s.started = true
	if first && s.skipPrompt {
		return nil
	}
	if len(tokens) == 0 {
		return nil
	}
	s.cache = append(s.cache, tokens[0]...)
	text, err := s.decode(s.cache)
	if err != nil {
		return err
	}
	var printable string
	switch {
	case strings.HasSuffix(text, "\n"):
		printable = text[min(s.printLen, len(text)):]
		s.cache = s.cache[:0]
		s.printLen = 0
	case strings.HasSuffix(text, "\uFFFD"):
		return nil
	default:
		last, _ := utf8.DecodeLastRuneInString(text)
		if len(text) > 0 && isCJK(last) {
			printable = text[min(s.printLen, len(text)):]
			s.printLen += len(printable)
		} else {
			end := strings.LastIndexByte(text, ' ') + 1
			if end > s.printLen {
				printable = text[s.printLen:end]
				s.printLen = end
			}
		}
	}
	if printable == "" {
		return nil
	}
	return s.onText(printable, false)
}

// End flushes the remaining text.
func (s *TextStreamer) End() {
	text := ""
	if len(s.cache) > 0 {
		if t, err := s.decode(s.cache); err == nil && len(t) > s.printLen {
			text = t[s.printLen:]
		}
	}
	s.cache, s.printLen, s.started = nil, 0, false
	_ = s.onText(text, true)
}

// isCJK mirrors TextStreamer._is_chinese_char (the CJK Unified Ideograph blocks).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// TextIteratorStreamer mirrors transformers' TextIteratorStreamer: text pieces arrive on a channel,
// closed when generation ends. Sends give up when ctx is done, so an abandoned consumer never
// blocks the generating goroutine (cancel ctx, generation stops, the channel closes).
type TextIteratorStreamer struct {
	text *TextStreamer
	ch   chan string
	ctx  context.Context
	once sync.Once
}

// NewTextIteratorStreamer returns a streamer whose pieces are read from C(). buffer is the channel
// capacity.
func NewTextIteratorStreamer(ctx context.Context, decode DecodeFunc, skipPrompt bool, buffer int) *TextIteratorStreamer {
	s := &TextIteratorStreamer{ch: make(chan string, max(buffer, 0)), ctx: ctx}
	s.text = NewTextStreamer(decode, skipPrompt, func(text string, final bool) error {
		if text == "" {
			return nil
		}
		select {
		case s.ch <- text:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return s
}

// C returns the channel of text pieces.
func (s *TextIteratorStreamer) C() <-chan string { return s.ch }

// Put adds tokens.
func (s *TextIteratorStreamer) Put(tokens [][]int) error { return s.text.Put(tokens) }

// End flushes and closes the channel.
func (s *TextIteratorStreamer) End() {
	s.once.Do(func() {
		s.text.End()
		close(s.ch)
	})
}
