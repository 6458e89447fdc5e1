package transformers

import (
	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// LoadOptions are the options of every FromPretrained call (the keyword arguments of transformers'
// from_pretrained that this port supports). Build them with NewLoadOptions and Options.
type LoadOptions struct {
	// DType is the storage type wanted for the weights (from_pretrained's torch_dtype); nil keeps
	// the checkpoint's. Activations are float32 whatever it is.
	DType *tensor.DType
	// Revision is the hub revision (branch, tag or commit); "" means "main".
	Revision string
	// CacheDir is the hub cache folder; "" means the default (HF_HUB_CACHE, HF_HOME/hub,
	// ~/.cache/huggingface/hub).
	CacheDir string
	// Offline forbids network access (local_files_only=True / HF_HUB_OFFLINE=1).
	Offline bool
	// Token is the hub access token; "" means the default (HF_TOKEN, the token file).
	Token string
	// ApproxBF16Dot marks every bf16 weight loaded (stored as bf16, or converted to it by DType)
	// with tensor.Weight.ApproxBF16Dot: on CPUs with AVX512_BF16 (tensor.BF16DotAvailable),
	// one-row Linear (decoding) rounds its input row to bf16 and uses VDPBF16PS, about 1e-3
	// relative error per dot product instead of about 1e-6, for 3-16% more weight bandwidth. Off
	// by default; it has no effect on float32/float16 weights or on other CPUs. No Python
	// counterpart: outputs no longer match transformers' to float32 rounding.
	ApproxBF16Dot bool
	// Progress, when set, is called as downloads progress: file name, bytes done, total bytes
	// (total < 0 when unknown).
	Progress func(file string, done, total int64)
}

// Option sets one LoadOptions field (functional options).
type Option func(*LoadOptions)

// NewLoadOptions applies opts to zero LoadOptions.
func NewLoadOptions(opts ...Option) *LoadOptions {
	lo := &LoadOptions{}
	for _, o := range opts {
		if o != nil {
			o(lo)
		}
	}
	return lo
}

// WithDType asks for weights stored as d (torch_dtype=).
func WithDType(d tensor.DType) Option { return func(o *LoadOptions) { o.DType = &d } }

// WithRevision picks a hub revision (revision=).
func WithRevision(rev string) Option { return func(o *LoadOptions) { o.Revision = rev } }

// WithCacheDir sets the hub cache folder (cache_dir=).
func WithCacheDir(dir string) Option { return func(o *LoadOptions) { o.CacheDir = dir } }

// WithOffline forbids downloads (local_files_only=).
func WithOffline(offline bool) Option { return func(o *LoadOptions) { o.Offline = offline } }

// WithToken sets the hub token (token=).
func WithToken(token string) Option { return func(o *LoadOptions) { o.Token = token } }

// WithApproxBF16Dot turns on LoadOptions.ApproxBF16Dot: the approximate bf16 decode GEMV
// (VDPBF16PS, input rounded to bf16) for the model's bf16 weights, on AVX512_BF16 CPUs.
func WithApproxBF16Dot() Option { return func(o *LoadOptions) { o.ApproxBF16Dot = true } }

// WithProgress sets a download progress callback.
func WithProgress(fn func(file string, done, total int64)) Option {
	return func(o *LoadOptions) { o.Progress = fn }
}

// NewBinder returns a strict binder over sd honouring DType (nil: weights keep their stored dtype)
// and ApproxBF16Dot: the binder every model's FromPretrained binds its weights with.
func (o *LoadOptions) NewBinder(sd *weights.StateDict) *weights.Binder {
	var opts []weights.BinderOption
	if o.DType != nil {
		opts = append(opts, weights.WithDType(*o.DType))
	}
	if o.ApproxBF16Dot {
		opts = append(opts, weights.WithApproxBF16Dot())
	}
	return weights.NewBinder(sd, opts...)
}
