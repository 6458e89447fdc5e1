package tokenizer

import (
	"errors"
	"fmt"
)

// ErrFormat is wrapped by every error about a malformed tokenizer file.
var ErrFormat = errors.New("tokenizer: malformed file")

// ErrUnknownID is wrapped by decode errors for ids that are neither in the vocabulary nor added
// tokens (Python raises there too).
var ErrUnknownID = errors.New("tokenizer: id not in vocabulary")

func errUnknownToken(tok string) error {
	return fmt.Errorf("tokenizer: token %q is not in the vocabulary and there is no unk token", tok)
}

func errNotByteLevel(tok string, r rune) error {
	return fmt.Errorf("tokenizer: token %q holds %q, which is not a byte-level character", tok, r)
}

func formatErr(file, field, msg string, args ...any) error {
	return fmt.Errorf("tokenizer: %s: %s: %s: %w", file, field, fmt.Sprintf(msg, args...), ErrFormat)
}
