package weights

import "errors"

// Sentinel errors; every error of this package wraps one of them (test with errors.Is) and names the
// file and the tensor or field concerned.
var (
	// ErrFormat marks a file that is not a valid checkpoint (bad header, bad offsets, bad pickle...).
	ErrFormat = errors.New("invalid checkpoint file")
	// ErrUnsupportedDType marks a tensor whose dtype cannot be read the way it was asked for.
	ErrUnsupportedDType = errors.New("unsupported dtype")
	// ErrNotFound marks a tensor name a file or state dict does not hold.
	ErrNotFound = errors.New("tensor not found")
	// ErrDisallowedGlobal marks a pickle that refers to a Python global outside the allow-list.
	ErrDisallowedGlobal = errors.New("disallowed pickle global")
	// ErrUnsafePath marks a shard name that is not a plain file name in the checkpoint folder.
	ErrUnsafePath = errors.New("unsafe shard file name")
	// ErrMissingFile marks a checkpoint folder or shard that does not exist.
	ErrMissingFile = errors.New("missing checkpoint file")
	// ErrKeys marks a Binder.Finish failure (missing, unexpected or mis-shaped keys).
	ErrKeys = errors.New("checkpoint keys do not match the model")
)
