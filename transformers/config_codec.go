package transformers

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
)

func metaType() reflect.Type     { return reflect.TypeOf(Meta{}) }
func baseType() reflect.Type     { return reflect.TypeOf(PretrainedConfig{}) }
func tokenIDsType() reflect.Type { return reflect.TypeOf(TokenIDs{}) }

// droppedKey reports whether key is never stored: PretrainedConfig.__init__ pops it or to_dict
// drops it (base), or GenerationConfig's does (!base).
func droppedKey(key string, base bool) bool {
	switch key {
	case "transformers_version", "_commit_hash", "_original_object_hash":
		return true // to_dict writes its own version; hashes are runtime state
	case "model_type", "attn_implementation", "_attn_implementation_internal", "_auto_class",
		"_pre_quantization_dtype", "xla_device":
		return base // the class model_type is written, never the instance's
	}
	return false
}

type fieldInfo struct {
	key   string
	index []int
	typ   reflect.Type
}

func configFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "" || tag == "-" {
			continue
		}
		out = append(out, fieldInfo{key: tag, index: f.Index, typ: f.Type})
	}
	return out
}

func findEmbedded(v reflect.Value, t reflect.Type) (reflect.Value, bool) {
	for _, f := range reflect.VisibleFields(v.Type()) {
		if f.Anonymous && f.Type == t {
			return v.FieldByIndex(f.Index), true
		}
	}
	return reflect.Value{}, false
}

func structValue(p any) (reflect.Value, error) {
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("transformers: want a non-nil pointer to a config struct, got %T", p)
	}
	return v.Elem(), nil
}

// DecodeConfig sets the fields of dst (a pointer to a config struct whose fields carry the JSON
// keys as json tags and which embeds PretrainedConfig or Meta) from m, over the values dst already
// holds (its defaults), as a transformers config's __init__(**config_dict) does. Keys without a
// field are kept in Meta.Extra. aliases renames keys first (a class's attribute_map, e.g. T5's
// hidden_size -> d_model). When dst embeds PretrainedConfig, PretrainedConfig.__init__'s rules
// apply: model_type, transformers_version and private keys are not stored, name_or_path is
// _name_or_path, id2label/label2id/num_labels, problem_type. Errors name file and key and wrap
// ErrInvalidConfig.
func DecodeConfig(dst any, m map[string]any, file string, aliases map[string]string) error {
	v, err := structValue(dst)
	if err != nil {
		return err
	}
	metaV, ok := findEmbedded(v, metaType())
	if !ok {
		return fmt.Errorf("transformers: %T has no embedded Meta", dst)
	}
	meta := metaV.Addr().Interface().(*Meta)
	if meta.Extra == nil {
		meta.Extra = map[string]any{}
	}
	if meta.numForm == nil {
		meta.numForm = map[string]byte{}
	}
	baseV, hasBase := findEmbedded(v, baseType())
	fields := map[string]fieldInfo{}
	for _, f := range configFields(v.Type()) {
		fields[f.key] = f
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Aliased keys are applied after the canonical ones (Python sets them later, in
	// PretrainedConfig.__init__, so they win).
	var aliased []string
	var numLabels *int
	id2labelGiven := false
	for _, k := range keys {
		if _, ok := aliases[k]; ok {
			aliased = append(aliased, k)
			continue
		}
		val := m[k]
		if droppedKey(k, hasBase) {
			continue
		}
		if hasBase {
			switch k {
			case "name_or_path":
				k = "_name_or_path"
			case "num_labels":
				n, err := toInt(val)
				if err != nil {
					return fmt.Errorf("%s: key %q: %v: %w", file, k, err, ErrInvalidConfig)
				}
				if n < 0 || n > 1<<20 {
					return fmt.Errorf("%s: key %q: %d labels is out of range: %w", file, k, n, ErrInvalidConfig)
				}
				numLabels = &n
				continue
			case "id2label":
				id2labelGiven = val != nil
			}
		}
		if err := setKey(v, fields, meta, k, val, file); err != nil {
			return err
		}
	}
	for _, k := range aliased {
		if err := setKey(v, fields, meta, aliases[k], m[k], file); err != nil {
			return fmt.Errorf("%w (given as %q)", err, k)
		}
	}
	if hasBase {
		base := baseV.Addr().Interface().(*PretrainedConfig)
		if _, ok := m["label2id"]; id2labelGiven && !ok {
			base.Label2ID = nil // Python: kwargs.pop("label2id", None)
		}
		if !id2labelGiven {
			n := 2
			if numLabels != nil {
				n = *numLabels
			}
			base.ID2Label = make(map[int]string, n)
			base.Label2ID = make(map[string]int, n)
			for i := 0; i < n; i++ {
				l := "LABEL_" + strconv.Itoa(i)
				base.ID2Label[i] = l
				base.Label2ID[l] = i
			}
		}
		if base.ProblemType != nil {
			switch *base.ProblemType {
			case "regression", "single_label_classification", "multi_label_classification":
			default:
				return fmt.Errorf("%s: key \"problem_type\": %q is not one of regression, single_label_classification, multi_label_classification: %w", file, *base.ProblemType, ErrInvalidConfig)
			}
		}
		if base.TorchDType != nil {
			name, err := TorchDTypeName(*base.TorchDType)
			if err != nil {
				return fmt.Errorf("%s: key \"torch_dtype\": %v: %w", file, err, ErrInvalidConfig)
			}
			base.TorchDType = &name
		}
		if base.PrunedHeads == nil {
			base.PrunedHeads = map[string]any{}
		}
	}
	return nil
}

func setKey(v reflect.Value, fields map[string]fieldInfo, meta *Meta, k string, val any, file string) error {
	f, ok := fields[k]
	if !ok {
		meta.Extra[k] = Normalize(val)
		return nil
	}
	delete(meta.numForm, k)
	form, err := setValue(v.FieldByIndex(f.index), val)
	if err != nil {
		return fmt.Errorf("%s: key %q: %v: %w", file, k, err, ErrInvalidConfig)
	}
	if form != 0 {
		meta.numForm[k] = form
	}
	return nil
}

func toInt(val any) (int, error) {
	switch x := val.(type) {
	case int64:
		if x > math.MaxInt32*int64(1<<20) || x < -math.MaxInt32*int64(1<<20) {
			return 0, fmt.Errorf("integer %d is out of range", x)
		}
		return int(x), nil
	case int:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<50 {
			return int(x), nil
		}
	}
	return 0, fmt.Errorf("want an integer, got %s", pyTypeName(Normalize(val)))
}

// setValue stores the JSON value val in the field f; it returns 'i' when a float field got an
// integer, 'f' when an int field got an integral float (so that saving writes the same form).
func setValue(f reflect.Value, val any) (byte, error) {
	val = Normalize(val)
	t := f.Type()
	if t == tokenIDsType() {
		ids, err := tokenIDsFrom(val)
		if err != nil {
			return 0, err
		}
		f.Set(reflect.ValueOf(ids))
		return 0, nil
	}
	switch t.Kind() {
	case reflect.Interface:
		if val == nil {
			f.Set(reflect.Zero(t))
		} else {
			f.Set(reflect.ValueOf(val))
		}
		return 0, nil
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return 0, fmt.Errorf("want a boolean, got %s", pyTypeName(val))
		}
		f.SetBool(b)
		return 0, nil
	case reflect.Int:
		if _, isBool := val.(bool); isBool {
			return 0, fmt.Errorf("want an integer, got a boolean")
		}
		n, err := toInt(val)
		if err != nil {
			return 0, err
		}
		f.SetInt(int64(n))
		if _, isF := val.(float64); isF {
			return 'f', nil
		}
		return 0, nil
	case reflect.Float64:
		switch x := val.(type) {
		case float64:
			f.SetFloat(x)
			return 0, nil
		case int64:
			f.SetFloat(float64(x))
			return 'i', nil
		}
		return 0, fmt.Errorf("want a number, got %s", pyTypeName(val))
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			return 0, fmt.Errorf("want a string, got %s", pyTypeName(val))
		}
		f.SetString(s)
		return 0, nil
	case reflect.Pointer:
		if val == nil {
			f.Set(reflect.Zero(t))
			return 0, nil
		}
		p := reflect.New(t.Elem())
		form, err := setValue(p.Elem(), val)
		if err != nil {
			return 0, fmt.Errorf("%v or null", err)
		}
		f.Set(p)
		return form, nil
	case reflect.Slice:
		if val == nil {
			f.Set(reflect.Zero(t))
			return 0, nil
		}
		list, ok := val.([]any)
		if !ok {
			return 0, fmt.Errorf("want a list, got %s", pyTypeName(val))
		}
		s := reflect.MakeSlice(t, len(list), len(list))
		for i, e := range list {
			if _, err := setValue(s.Index(i), e); err != nil {
				return 0, fmt.Errorf("item %d: %v", i, err)
			}
		}
		f.Set(s)
		return 0, nil
	case reflect.Map:
		if val == nil {
			f.Set(reflect.Zero(t))
			return 0, nil
		}
		if im, isInt := val.(map[int64]any); isInt {
			sm := make(map[string]any, len(im))
			for k, e := range im {
				sm[strconv.FormatInt(k, 10)] = e
			}
			val = sm
		}
		obj, ok := val.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("want an object, got %s", pyTypeName(val))
		}
		mv := reflect.MakeMapWithSize(t, len(obj))
		for k, e := range obj {
			kv := reflect.New(t.Key()).Elem()
			switch t.Key().Kind() {
			case reflect.String:
				kv.SetString(k)
			case reflect.Int:
				n, err := strconv.Atoi(k)
				if err != nil {
					return 0, fmt.Errorf("key %q: want an integer key", k)
				}
				kv.SetInt(int64(n))
			}
			ev := reflect.New(t.Elem()).Elem()
			if _, err := setValue(ev, e); err != nil {
				return 0, fmt.Errorf("entry %q: %v", k, err)
			}
			mv.SetMapIndex(kv, ev)
		}
		f.Set(mv)
		return 0, nil
	}
	return 0, fmt.Errorf("unsupported field type %s", t)
}

func tokenIDsFrom(val any) (TokenIDs, error) {
	switch x := val.(type) {
	case nil:
		return TokenIDs{}, nil
	case int64, float64:
		n, err := toInt(x)
		if err != nil {
			return TokenIDs{}, err
		}
		return TokenIDs{IDs: []int{n}}, nil
	case []any:
		ids := make([]int, len(x))
		for i, e := range x {
			if _, isBool := e.(bool); isBool {
				return TokenIDs{}, fmt.Errorf("item %d: want an integer, got a boolean", i)
			}
			n, err := toInt(e)
			if err != nil {
				return TokenIDs{}, fmt.Errorf("item %d: %v", i, err)
			}
			ids[i] = n
		}
		return TokenIDs{IDs: ids, List: true}, nil
	}
	return TokenIDs{}, fmt.Errorf("want an integer, a list of integers or null, got %s", pyTypeName(val))
}

func (t TokenIDs) pyValue() any {
	if t.List {
		out := make([]any, len(t.IDs))
		for i, id := range t.IDs {
			out[i] = int64(id)
		}
		return out
	}
	if len(t.IDs) == 0 {
		return nil
	}
	return int64(t.IDs[0])
}

// EncodeFields returns the JSON values of every tagged field of src (a pointer to a config
// struct) plus the unknown keys kept in its Meta, in the canonical form of Normalize. Float fields
// read from JSON integers are written as integers again.
func EncodeFields(src any) map[string]any {
	v, err := structValue(src)
	if err != nil {
		return map[string]any{}
	}
	var meta *Meta
	if mv, ok := findEmbedded(v, metaType()); ok {
		meta = mv.Addr().Interface().(*Meta)
	}
	out := map[string]any{}
	if meta != nil {
		for k, e := range meta.Extra {
			out[k] = Normalize(e)
		}
	}
	for _, f := range configFields(v.Type()) {
		var form byte
		if meta != nil {
			form = meta.numForm[f.key]
		}
		out[f.key] = encodeValue(v.FieldByIndex(f.index), form)
	}
	return out
}

func encodeValue(f reflect.Value, form byte) any {
	t := f.Type()
	if t == tokenIDsType() {
		return f.Interface().(TokenIDs).pyValue()
	}
	switch t.Kind() {
	case reflect.Interface:
		if f.IsNil() {
			return nil
		}
		return Normalize(f.Elem().Interface())
	case reflect.Bool:
		return f.Bool()
	case reflect.Int:
		if form == 'f' {
			return float64(f.Int())
		}
		return f.Int()
	case reflect.Float64:
		x := f.Float()
		if form == 'i' && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case reflect.String:
		return f.String()
	case reflect.Pointer:
		if f.IsNil() {
			return nil
		}
		return encodeValue(f.Elem(), form)
	case reflect.Slice:
		if f.IsNil() {
			return nil
		}
		out := make([]any, f.Len())
		for i := range out {
			out[i] = encodeValue(f.Index(i), 0)
		}
		return out
	case reflect.Map:
		if f.IsNil() {
			return nil
		}
		it := f.MapRange()
		if t.Key().Kind() == reflect.Int {
			out := make(map[int64]any, f.Len())
			for it.Next() {
				out[it.Key().Int()] = encodeValue(it.Value(), 0)
			}
			return out
		}
		out := make(map[string]any, f.Len())
		for it.Next() {
			out[it.Key().String()] = encodeValue(it.Value(), 0)
		}
		return out
	}
	return Normalize(f.Interface())
}

// ConfigToDict implements PretrainedConfig.to_dict for a config struct: every attribute, the
// unknown keys, model_type (the class's) and transformers_version (TransformersVersion).
func ConfigToDict(src any, modelType string) map[string]any {
	out := EncodeFields(src)
	out["model_type"] = modelType
	out["transformers_version"] = TransformersVersion
	return out
}

// BaseDefaultDict returns PretrainedConfig().to_dict(): the defaults every to_diff_dict compares
// against.
func BaseDefaultDict() map[string]any {
	b := struct{ PretrainedConfig }{NewPretrainedConfig()}
	return ConfigToDict(&b, "")
}

// DiffDict implements the flat part of PretrainedConfig.to_diff_dict: the keys of d that are not
// PretrainedConfig attributes, or transformers_version, or whose value differs from
// PretrainedConfig()'s or from the class default classDefault (its to_dict()). Keys handled as
// nested sub-configs must be removed from d first and diffed with RecursiveDiffDict.
func DiffDict(d, classDefault map[string]any) map[string]any {
	base := BaseDefaultDict()
	out := map[string]any{}
	for k, v := range d {
		bv, inBase := base[k]
		cv, inClass := classDefault[k]
		if !inBase || k == "transformers_version" || !PyEqual(v, bv) || (inClass && !PyEqual(v, cv)) {
			out[k] = v
		}
	}
	return out
}

// RecursiveDiffDict implements transformers' recursive_diff_dict for a sub-config dict a (no
// nested configs inside): keys of a absent from b (the parent class default's sub-dict), or
// differing from b, or absent from objDefault (the sub-config class's own default to_dict), or
// differing from it.
func RecursiveDiffDict(a, b, objDefault map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		bv, inB := b[k]
		dv, inD := objDefault[k]
		if !inB || !PyEqual(v, bv) || !inD || !PyEqual(v, dv) {
			out[k] = v
		}
	}
	return out
}

// TorchDTypeName returns the name transformers writes for a torch_dtype value: Python turns the
// string into a torch.dtype (getattr(torch, name)) and to_dict writes str(dtype) without "torch.",
// so aliases are canonicalised ("float" -> "float32", "half" -> "float16", "double" ->
// "float64", ...). A name torch does not know is an error.
func TorchDTypeName(s string) (string, error) {
	switch s {
	case "float32", "float16", "bfloat16", "float64", "int8", "uint8", "int16", "int32", "int64",
		"bool", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2":
		return s, nil
	case "float":
		return "float32", nil
	case "half":
		return "float16", nil
	case "double":
		return "float64", nil
	case "short":
		return "int16", nil
	case "int":
		return "int32", nil
	case "long":
		return "int64", nil
	case "cfloat":
		return "complex64", nil
	case "cdouble":
		return "complex128", nil
	}
	return "", fmt.Errorf("%q is not a torch dtype (want \"float32\", \"float16\", \"bfloat16\", ...)", s)
}
