package transformers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalidConfig is wrapped by every error about the content of a configuration file (wrong
// JSON type, impossible size, unknown model_type).
var ErrInvalidConfig = errors.New("invalid configuration")

// ParseJSON decodes a JSON object the way Python's json.loads does: numbers without a fraction or
// exponent become int64, the others float64; objects are map[string]any, arrays []any. file names
// the source in errors.
func ParseJSON(data []byte, file string) (map[string]any, error) {
	data = replaceNonFinite(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: parse JSON: %v: %w", file, err, ErrInvalidConfig)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: parse JSON: trailing data after the object: %w", file, ErrInvalidConfig)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a JSON object at the top level, got %s: %w", file, pyTypeName(fromNumbers(raw)), ErrInvalidConfig)
	}
	out, err := convertNumbers(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", file, err, ErrInvalidConfig)
	}
	return out.(map[string]any), nil
}

// MaxConfigFileBytes bounds the size of a configuration file read by ReadJSONFile (config.json,
// generation_config.json): real ones are a few kilobytes, and a forged one must not be read whole
// into memory.
const MaxConfigFileBytes = 16 << 20

// ReadJSONFile reads and parses a JSON object file (see ParseJSON) of at most MaxConfigFileBytes.
func ReadJSONFile(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxConfigFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit for a configuration file: %w", path, st.Size(), MaxConfigFileBytes, ErrInvalidConfig)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > MaxConfigFileBytes {
		return nil, fmt.Errorf("%s: over the %d-byte limit for a configuration file: %w", path, MaxConfigFileBytes, ErrInvalidConfig)
	}
	return ParseJSON(data, path)
}

func fromNumbers(v any) any {
	out, err := convertNumbers(v)
	if err != nil {
		return v
	}
	return out
}

func convertNumbers(v any) (any, error) {
	switch x := v.(type) {
	case string:
		switch x {
		case nanMarker:
			return math.NaN(), nil
		case infMarker:
			return math.Inf(1), nil
		case negInfMarker:
			return math.Inf(-1), nil
		}
		return x, nil
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
			// Python ints are unbounded; beyond int64 keep the float value.
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %v", s, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := convertNumbers(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := convertNumbers(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	default:
		return v, nil
	}
}

// ToJSONString writes v as Python's json.dumps(v, indent=2, sort_keys=True) + "\n" does (the
// format of transformers' to_json_string): keys sorted, two-space indent, ASCII only (\uXXXX
// escapes), floats in Python's repr (1e-05, 0.02, 1.0). v holds nil, bool, ints, float64, string,
// []any, map[string]any (other slices and maps of those are accepted too).
func ToJSONString(v any) string {
	var b strings.Builder
	writePy(&b, Normalize(v), 0)
	b.WriteByte('\n')
	return b.String()
}

// PyFloatRepr formats f as Python's repr(float) does: the shortest string that round-trips, in
// positional notation when the decimal exponent is in [-4, 16), else scientific with a signed
// two-digit (at least) exponent; integral values keep ".0". NaN and infinities are written as
// json.dumps writes them (NaN, Infinity, -Infinity).
func PyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	epos := strings.IndexByte(s, 'e')
	mant, expStr := s[:epos], s[epos+1:]
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		out = fmt.Sprintf("%se%s%02d", m, sign, exp)
	} else if exp < 0 {
		out = "0." + strings.Repeat("0", -exp-1) + digits
	} else {
		if len(digits) <= exp+1 {
			out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		} else {
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	}
	if neg {
		out = "-" + out
	}
	return out
}

func writeIndent(b *strings.Builder, n int) {
	b.WriteByte('\n')
	for i := 0; i < n; i++ {
		b.WriteString("  ")
	}
}

func writePy(b *strings.Builder, v any, depth int) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(PyFloatRepr(x))
	case string:
		writePyString(b, x)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeIndent(b, depth+1)
			writePy(b, e, depth+1)
		}
		writeIndent(b, depth)
		b.WriteByte(']')
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // Python sorts str keys by code point; Go sorts bytes (same order for UTF-8)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeIndent(b, depth+1)
			writePyString(b, k)
			b.WriteString(": ")
			writePy(b, x[k], depth+1)
		}
		writeIndent(b, depth)
		b.WriteByte('}')
	case map[int64]any:
		// Python dicts with int keys (id2label): json.dumps(sort_keys=True) sorts the ints
		// numerically, then writes them as strings.
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		keys := make([]int64, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeIndent(b, depth+1)
			writePyString(b, strconv.FormatInt(k, 10))
			b.WriteString(": ")
			writePy(b, x[k], depth+1)
		}
		writeIndent(b, depth)
		b.WriteByte('}')
	default:
		writePyString(b, fmt.Sprint(x))
	}
}

func writePyString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r >= 0x20 && r <= 0x7e {
				b.WriteRune(r)
			} else if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}

// Normalize converts v to the canonical value tree used by ToDict: nil, bool, int64, float64,
// string, []any, map[string]any, and map[int64]any for Python dicts with int keys (id2label; they
// sort numerically in ToJSONString) (deep copy). Other ints, []int, []string, map[int]string,
// map[string]int and similar are converted.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool, int64, float64, string:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case []int:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case map[int]string:
		out := make(map[int64]any, len(x))
		for k, e := range x {
			out[int64(k)] = e
		}
		return out
	case map[int64]any:
		out := make(map[int64]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case map[string]int:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = int64(e)
		}
		return out
	case TokenIDs:
		return x.pyValue()
	default:
		return fmt.Sprint(x)
	}
}

// PyEqual compares two normalised values as Python's == does: numbers by value (True == 1,
// 1 == 1.0), lists element-wise, dicts by key set and values.
func PyEqual(a, b any) bool {
	if an, ok := pyNumber(a); ok {
		bn, ok := pyNumber(b)
		return ok && an == bn
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !PyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !PyEqual(v, w) {
				return false
			}
		}
		return true
	case map[int64]any:
		y, ok := b.(map[int64]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !PyEqual(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

func pyNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any, map[int64]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// SaveJSON writes s to path atomically: a temporary file in the same folder, synced, then renamed
// over path. The folder is created when missing.
func SaveJSON(path, s string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	ok = true
	return nil
}

// Markers standing for the non-finite literals Python's json module reads and writes (NaN,
// Infinity, -Infinity) while encoding/json decodes the text; they cannot come from a real string
// of the file because replaceNonFinite only rewrites bare tokens.
const (
	nanMarker    = "\x00gotransformers:NaN"
	infMarker    = "\x00gotransformers:Infinity"
	negInfMarker = "\x00gotransformers:-Infinity"
)

// replaceNonFinite rewrites the bare tokens NaN, Infinity and -Infinity (outside strings) into
// marker strings, so that files written by Python with non-finite floats parse.
func replaceNonFinite(data []byte) []byte {
	if !bytes.Contains(data, []byte("NaN")) && !bytes.Contains(data, []byte("Infinity")) {
		return data
	}
	var out bytes.Buffer
	inStr, esc := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inStr {
			out.WriteByte(c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out.WriteByte(c)
		case bytes.HasPrefix(data[i:], []byte("NaN")):
			out.Write(jsonQuote(nanMarker))
			i += len("NaN") - 1
		case bytes.HasPrefix(data[i:], []byte("Infinity")):
			out.Write(jsonQuote(infMarker))
			i += len("Infinity") - 1
		case bytes.HasPrefix(data[i:], []byte("-Infinity")):
			out.Write(jsonQuote(negInfMarker))
			i += len("-Infinity") - 1
		default:
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}

func jsonQuote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
