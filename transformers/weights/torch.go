package weights

import (
	"fmt"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// TorchFile is an opened pytorch_model.bin (torch.save zip format).
type TorchFile struct{ path string }

// OpenTorch opens a pytorch_model.bin file.
func OpenTorch(path string) (*TorchFile, error) {
	return nil, fmt.Errorf("weights: %s: pytorch_model.bin not implemented yet: %w", path, ErrFormat)
}

func (t *TorchFile) Path() string                                { return t.path }
func (t *TorchFile) Keys() []string                              { return nil }
func (t *TorchFile) Info(name string) (string, []int, bool)      { return "", nil, false }
func (t *TorchFile) Weight(name string) (*tensor.Weight, error)  { return nil, ErrNotFound }
func (t *TorchFile) Float32(name string) (*tensor.Tensor, error) { return nil, ErrNotFound }
func (t *TorchFile) Int64(name string) ([]int64, []int, error)   { return nil, nil, ErrNotFound }
func (t *TorchFile) Close() error                                { return nil }
