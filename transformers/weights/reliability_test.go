package weights_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotransformers/gotransformers/transformers/weights"

	"github.com/gotransformers/gotransformers/internal/heapstat"
)

// Bad-input classes of checkpoint folders, through the public entry points (LoadStateDict,
// OpenSafetensors, OpenTorch): each is an error naming the file, none allocates for what a header
// merely claims, none reads outside the folder, none runs pickle code.

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// safetensorsFile builds a safetensors file from a header and data.
func safetensorsFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// TestForgedTensorSizes: small files whose headers claim huge tensors are rejected, and rejecting
// them allocates next to nothing.
func TestForgedTensorSizes(t *testing.T) {
	cases := []struct{ name, header string }{
		// a ~100-byte file claiming a 1 TB (2^38 float32) tensor
		{"1 TB tensor in 100 bytes", `{"w":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}`},
		{"shape product wraps to the data size", `{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`},
		{"dimension over MaxDim", `{"w":{"dtype":"U8","shape":[1125899906842625],"data_offsets":[0,1125899906842625]}}`},
		{"offsets beyond the file", `{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}`},
		{"negative dimension", `{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`},
		{"rank 65", `{"w":{"dtype":"U8","shape":[` + strings.Repeat("1,", 64) + `1],"data_offsets":[0,1]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "model.safetensors", safetensorsFile(c.header, []byte{1, 2, 3, 4}))
			if st, _ := os.Stat(p); st.Size() > 1<<10 {
				t.Fatalf("test file of %d bytes", st.Size())
			}
			var err error
			n := heapstat.Allocated(func() {
				var sd *weights.StateDict
				if sd, err = weights.LoadStateDict(dir); err == nil {
					sd.Close()
				}
			})
			if err == nil || !errors.Is(err, weights.ErrFormat) {
				t.Fatalf("LoadStateDict: %v, want ErrFormat", err)
			}
			if !strings.Contains(err.Error(), "model.safetensors") {
				t.Errorf("error does not name the file: %v", err)
			}
			if n > 1<<20 {
				t.Errorf("rejecting a %d-byte file allocated %d bytes", len(c.header)+12, n)
			}
		})
	}
	t.Run("header length claims 1 TB", func(t *testing.T) {
		dir := t.TempDir()
		b := binary.LittleEndian.AppendUint64(nil, 1<<40)
		writeFile(t, dir, "model.safetensors", append(b, "{}"...))
		var err error
		n := heapstat.Allocated(func() { _, err = weights.LoadStateDict(dir) })
		if !errors.Is(err, weights.ErrFormat) || n > 1<<20 {
			t.Fatalf("err %v after allocating %d bytes", err, n)
		}
	})
}

// TestShardNamesStayInFolder: an index may only name plain files of its own folder.
func TestShardNamesStayInFolder(t *testing.T) {
	outside := t.TempDir()
	shard := safetensorsFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4))
	writeFile(t, outside, "secret.safetensors", shard)
	for _, name := range []string{
		"../secret.safetensors", "..", ".", "", "sub/model.safetensors", `..\secret.safetensors`, "/etc/passwd",
		filepath.Join(outside, "secret.safetensors"), "C:secret.safetensors", "model\x00.safetensors",
	} {
		dir := filepath.Join(t.TempDir(), "model")
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(dir), "secret.safetensors", shard)
		writeFile(t, filepath.Join(dir, "sub"), "model.safetensors", shard)
		idx := `{"metadata":{},"weight_map":{"w":` + jsonString(name) + `}}`
		writeFile(t, dir, "model.safetensors.index.json", []byte(idx))
		sd, err := weights.LoadStateDict(dir)
		if err == nil {
			sd.Close()
			t.Errorf("shard name %q accepted", name)
			continue
		}
		if !errors.Is(err, weights.ErrUnsafePath) && !errors.Is(err, weights.ErrFormat) {
			t.Errorf("shard name %q: %v, want ErrUnsafePath", name, err)
		}
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// torchZip builds a pytorch_model.bin (torch.save zip layout) around a data.pkl.
func torchZip(t *testing.T, pkl []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"archive/data.pkl", pkl}, {"archive/byteorder", []byte("little")}, {"archive/version", []byte("3\n")}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDisallowedPickleGlobals: a data.pkl that names any callable outside the allow-list is
// rejected as soon as the global is read; nothing is called (the payloads would create a file).
func TestDisallowedPickleGlobals(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	cmd := "touch " + marker
	str := func(s string) []byte { // BINUNICODE
		return append(binary.LittleEndian.AppendUint32([]byte{'X'}, uint32(len(s))), s...)
	}
	global := func(mod, name string) []byte { return []byte("c" + mod + "\n" + name + "\n") }
	stackGlobal := func(mod, name string) []byte { return append(append(str(mod), str(name)...), 0x93) }
	call := func(g []byte, arg string) []byte { // PROTO 2, g, (arg,), REDUCE, STOP
		p := append([]byte{0x80, 0x02}, g...)
		p = append(p, str(arg)...)
		return append(p, 0x85, 'R', '.')
	}
	cases := map[string][]byte{
		"os.system":                  call(global("os", "system"), cmd),
		"posix.system":               call(global("posix", "system"), cmd),
		"builtins.eval":              call(global("builtins", "eval"), "__import__('os').system('"+cmd+"')"),
		"builtins.exec STACK_GLOBAL": call(stackGlobal("builtins", "exec"), "import os; os.system('"+cmd+"')"),
		"subprocess.call":            call(global("subprocess", "call"), cmd),
		"torch.load":                 call(global("torch", "load"), marker),
		"__builtin__.getattr":        call(global("__builtin__", "getattr"), "x"),
		"collections.OrderedDict.fromkeys via a dotted name": call(stackGlobal("collections", "OrderedDict.fromkeys"), "x"),
		"torch._utils._rebuild_tensor_v2 lookalike":          call(global("torch._utils", "_rebuild_tensor_v3"), "x"),
	}
	for name, pkl := range cases {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "pytorch_model.bin", torchZip(t, pkl))
			sd, err := weights.OpenFile(p)
			if err == nil {
				sd.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, weights.ErrDisallowedGlobal) {
				t.Errorf("err %v, want ErrDisallowedGlobal", err)
			}
			if !strings.Contains(err.Error(), "pytorch_model.bin") {
				t.Errorf("error does not name the file: %v", err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the pickle ran code")
			}
		})
	}
}
