// Package weights reads and writes model checkpoints the way Hugging Face transformers finds them on
// disk: model.safetensors (single or sharded through model.safetensors.index.json) and
// pytorch_model.bin (the torch.save zip format, single or sharded), memory-mapped and viewed without
// copies; a StateDict keyed by the checkpoint's parameter names; and a Binder that builds those names
// from prefixes as a module tree is built and reports missing, unexpected and mis-shaped keys at once.
// It imports only transformers/tensor of this module. Nothing in it executes code from a file: the
// pickle reader is a restricted interpreter of data opcodes (see docs/security.md).
package weights

import "github.com/gotransformers/gotransformers/transformers/tensor"

// File is one opened checkpoint file (a safetensors file or a pytorch_model.bin). It plays the role of
// safetensors.safe_open / torch.load(mmap=True) in Python. Views returned by Weight alias the file's
// memory map and stay valid until Close.
type File interface {
	// Path is the file name the file was opened from (used in error messages).
	Path() string
	// Keys lists the tensor names in file order.
	Keys() []string
	// Info returns a tensor's dtype (safetensors spelling: "F32", "BF16", "I64", ...) and shape.
	Info(name string) (dtype string, shape []int, ok bool)
	// Weight returns a floating tensor (F32, F16 or BF16) in its storage dtype, zero-copy where the
	// data is aligned.
	Weight(name string) (*tensor.Weight, error)
	// Float32 returns a floating tensor widened to float32 (always a fresh copy the caller may write).
	Float32(name string) (*tensor.Tensor, error)
	// Int64 returns an I64 tensor's values and shape.
	Int64(name string) ([]int64, []int, error)
	// Close releases the mapping; every view obtained from the file becomes invalid.
	Close() error
}
