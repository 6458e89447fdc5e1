package weights

import (
	"archive/zip"
	"testing"

	"github.com/gotransformers/gotransformers/transformers/tensor"
)

// The fuzz targets check that no input makes the parsers panic, hang or allocate beyond the input's
// size, and that whatever they accept can be read back in full. Seed corpora live under
// testdata/fuzz/<FuzzName>/ and run as ordinary tests; see docs/security.md for running them longer.

func FuzzSafetensorsHeader(f *testing.F) {
	f.Add(stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseSafetensors("fuzz", data)
		if err != nil {
			return
		}
		s := &Safetensors{path: "fuzz", data: data, h: h}
		for _, k := range s.Keys() {
			dt, shape, ok := s.Info(k)
			if !ok {
				t.Fatalf("key %q listed but not found", k)
			}
			switch dt {
			case "F32", "F16", "BF16":
				w, err := s.Weight(k)
				if err != nil {
					t.Fatal(err)
				}
				if w.Numel() != len(w.F32)+len(w.Half) {
					t.Fatalf("%q: shape %v, %d+%d values", k, shape, len(w.F32), len(w.Half))
				}
				w.Float32()
			case "I64":
				if _, _, err := s.Int64(k); err != nil {
					t.Fatal(err)
				}
			default:
				if _, err := s.Weight(k); err == nil {
					t.Fatalf("%q: dtype %s read as a weight", k, dt)
				}
			}
		}
	})
}

func FuzzIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex("fuzz", data)
		if err != nil {
			return
		}
		for k, s := range idx.WeightMap {
			if checkShardName(s) != nil {
				t.Fatalf("%q: unsafe shard name %q accepted", k, s)
			}
		}
		idx.Shards()
		NewIndexStateDict(idx)
	})
}

func FuzzUnpickle(f *testing.F) {
	f.Add(statePickle([]tensorSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, size: []int64{2, 2}, stride: []int64{1, 2}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := unpickle("fuzz", data)
		if err != nil {
			return
		}
		// Resolve whatever tensors came out against a zero storage of their declared size, bounded.
		d, ok := v.(*pDict)
		if !ok {
			return
		}
		for _, val := range d.vals {
			pt, ok := val.(*pTensor)
			if !ok || pt.storage.numel*pt.storage.elemSize > 1<<20 {
				continue
			}
			raw := make([]byte, pt.storage.numel*pt.storage.elemSize)
			if tt, err := resolveTensor(pt, raw); err == nil {
				n := 1
				for _, s := range tt.shape {
					n *= s
				}
				if int64(len(tt.raw)) != int64(n)*pt.storage.elemSize {
					t.Fatalf("shape %v resolved to %d bytes", tt.shape, len(tt.raw))
				}
			}
		}
	})
}

func FuzzTorchZip(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := parseTorch("fuzz", data)
		if err != nil {
			return
		}
		for _, k := range tf.Keys() {
			dt, _, _ := tf.Info(k)
			if _, ok := weightDType(dt); ok {
				w, err := tf.Weight(k)
				if err != nil {
					t.Fatal(err)
				}
				if w.Numel() != len(w.F32)+len(w.Half) {
					t.Fatalf("%q: shape %v", k, w.Shape)
				}
			}
		}
	})
}

// FuzzTorchArchive wraps a fuzzed pickle and fuzzed storage bytes in a well-formed torch.save zip, so
// the fuzzer reaches storage resolution (offsets, strides, dtypes) that a fuzzed zip rarely does.
func FuzzTorchArchive(f *testing.F) {
	f.Add(statePickle([]tensorSpec{
		{name: "w", storageType: "FloatStorage", key: "0", numel: 6, size: []int64{2, 3}, stride: []int64{3, 1}, param: true},
		{name: "t", storageType: "FloatStorage", key: "0", numel: 6, size: []int64{3, 2}, stride: []int64{1, 3}},
		{name: "h", storageType: "HalfStorage", key: "1", numel: 2, offset: 1, size: []int64{1}, stride: []int64{1}},
	}), f32s(6), []byte{0, 0x3c, 0, 0x40}, false)
	f.Fuzz(func(t *testing.T, pkl, s0, s1 []byte, deflate bool) {
		method := zip.Store
		if deflate {
			method = zip.Deflate
		}
		file := torchZip(t, pkl, map[string][]byte{"0": s0, "1": s1}, method, "little")
		tf, err := parseTorch("fuzz", file)
		if err != nil {
			return
		}
		for _, k := range tf.Keys() {
			dt, shape, _ := tf.Info(k)
			switch dt {
			case "F32", "F16", "BF16":
				w, err := tf.Weight(k)
				if err != nil {
					t.Fatal(err)
				}
				if w.Numel() != len(w.F32)+len(w.Half) {
					t.Fatalf("%q: shape %v", k, shape)
				}
			case "I64":
				v, _, err := tf.Int64(k)
				if err != nil || len(v) != tensor.Numel(shape) {
					t.Fatalf("%q: %v", k, err)
				}
			}
		}
	})
}
