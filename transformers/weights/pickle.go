package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// The restricted unpickler: a data-only interpreter of the pickle opcodes torch.save emits for a
// state dict (protocols 2 to 5). It knows a fixed allow-list of globals, calls none of them, and
// builds only dicts, lists, tuples, scalars, storages and tensor descriptions. Every other global,
// every REDUCE target outside the list and every other opcode is an error.

// MaxPickleBytes bounds the data.pkl of a checkpoint (a 15 GB model's is about 1 MB).
const MaxPickleBytes = 64 << 20

// pickle values
type (
	pGlobal struct{ module, name string }
	pTuple  []any
	pList   struct{ items []any }
	pDict   struct {
		keys  []any
		vals  []any
		index map[any]int
	}
	pMark    struct{}
	pStorage struct {
		dtype    string // safetensors spelling
		elemSize int64
		key      string
		location string
		numel    int64
	}
	pTensor struct {
		storage *pStorage
		offset  int64
		size    []int64
		stride  []int64
	}
)

func newDict() *pDict { return &pDict{index: map[any]int{}} }

func (d *pDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, nil:
	default:
		return fmt.Errorf("dict key of type %T", k)
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// storageTypes maps the allowed torch storage classes to safetensors dtype names and sizes.
var storageTypes = map[string]struct {
	dtype string
	size  int64
}{
	"FloatStorage": {"F32", 4}, "HalfStorage": {"F16", 2}, "BFloat16Storage": {"BF16", 2},
	"DoubleStorage": {"F64", 8}, "LongStorage": {"I64", 8}, "IntStorage": {"I32", 4},
	"ShortStorage": {"I16", 2}, "CharStorage": {"I8", 1}, "ByteStorage": {"U8", 1},
	"BoolStorage": {"BOOL", 1},
}

// allowedGlobal reports whether module.name may appear in a checkpoint pickle.
func allowedGlobal(module, name string) bool {
	switch module + "." + name {
	case "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter":
		return true
	}
	if module == "torch" {
		_, ok := storageTypes[name]
		return ok
	}
	return false
}

// unpickle interprets a state-dict pickle. path names the file in errors.
func unpickle(path string, data []byte) (any, error) {
	u := &unpickler{path: path, data: data, memo: map[uint32]any{}, storages: map[string]*pStorage{}}
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("weights: %s: data.pkl at byte %d: %w", path, u.pos, err)
	}
	return v, nil
}

type unpickler struct {
	path     string
	data     []byte
	pos      int
	stack    []any
	marks    []int
	memo     map[uint32]any
	storages map[string]*pStorage
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrFormat)
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, formatErr("truncated pickle (wanted %d bytes)", n)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", formatErr("truncated pickle (no newline)")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, formatErr("pickle stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, formatErr("pickle stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, formatErr("pickle MARK missing")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) run() (any, error) {
	for {
		b, err := u.read(1)
		if err != nil {
			return nil, err
		}
		op := b[0]
		switch op {
		case 0x80: // PROTO
			p, err := u.read(1)
			if err != nil {
				return nil, err
			}
			if p[0] > 5 {
				return nil, formatErr("pickle protocol %d", p[0])
			}
		case 0x95: // FRAME
			if _, err := u.read(8); err != nil {
				return nil, err
			}
		case '.': // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case '(': // MARK
			u.marks = append(u.marks, len(u.stack))
		case '}': // EMPTY_DICT
			u.push(newDict())
		case ']': // EMPTY_LIST
			u.push(&pList{})
		case ')': // EMPTY_TUPLE
			u.push(pTuple{})
		case 'N':
			u.push(nil)
		case 0x88:
			u.push(true)
		case 0x89:
			u.push(false)
		case 'K': // BININT1
			x, err := u.read(1)
			if err != nil {
				return nil, err
			}
			u.push(int64(x[0]))
		case 'M': // BININT2
			x, err := u.read(2)
			if err != nil {
				return nil, err
			}
			u.push(int64(binary.LittleEndian.Uint16(x)))
		case 'J': // BININT
			x, err := u.read(4)
			if err != nil {
				return nil, err
			}
			u.push(int64(int32(binary.LittleEndian.Uint32(x))))
		case 0x8a: // LONG1
			n, err := u.read(1)
			if err != nil {
				return nil, err
			}
			x, err := u.read(int(n[0]))
			if err != nil {
				return nil, err
			}
			if len(x) > 8 {
				return nil, formatErr("integer of %d bytes", len(x))
			}
			var v uint64
			for i := len(x) - 1; i >= 0; i-- {
				v = v<<8 | uint64(x[i])
			}
			if len(x) > 0 && len(x) < 8 && x[len(x)-1]&0x80 != 0 { // sign-extend
				v |= ^uint64(0) << (8 * uint(len(x)))
			}
			u.push(int64(v))
		case 'G': // BINFLOAT
			x, err := u.read(8)
			if err != nil {
				return nil, err
			}
			u.push(math.Float64frombits(binary.BigEndian.Uint64(x)))
		case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C': // strings and bytes
			var n uint64
			switch op {
			case 'X', 'T', 'B':
				x, err := u.read(4)
				if err != nil {
					return nil, err
				}
				n = uint64(binary.LittleEndian.Uint32(x))
				if op == 'T' && int32(n) < 0 {
					return nil, formatErr("negative string length")
				}
			case 0x8c, 'U', 'C':
				x, err := u.read(1)
				if err != nil {
					return nil, err
				}
				n = uint64(x[0])
			case 0x8d:
				x, err := u.read(8)
				if err != nil {
					return nil, err
				}
				n = binary.LittleEndian.Uint64(x)
			}
			if n > uint64(len(u.data)) {
				return nil, formatErr("truncated pickle (string of %d bytes)", n)
			}
			s, err := u.read(int(n))
			if err != nil {
				return nil, err
			}
			if op == 'B' || op == 'C' {
				u.push(append([]byte(nil), s...))
			} else {
				u.push(string(s))
			}
		case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
			var idx uint32
			switch op {
			case 'q':
				x, err := u.read(1)
				if err != nil {
					return nil, err
				}
				idx = uint32(x[0])
			case 'r':
				x, err := u.read(4)
				if err != nil {
					return nil, err
				}
				idx = binary.LittleEndian.Uint32(x)
			default:
				idx = uint32(len(u.memo))
			}
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			u.memo[idx] = v
		case 'h', 'j': // BINGET, LONG_BINGET
			var idx uint32
			if op == 'h' {
				x, err := u.read(1)
				if err != nil {
					return nil, err
				}
				idx = uint32(x[0])
			} else {
				x, err := u.read(4)
				if err != nil {
					return nil, err
				}
				idx = binary.LittleEndian.Uint32(x)
			}
			v, ok := u.memo[idx]
			if !ok {
				return nil, formatErr("pickle memo %d unset", idx)
			}
			u.push(v)
		case 'c': // GLOBAL
			mod, err := u.readLine()
			if err != nil {
				return nil, err
			}
			name, err := u.readLine()
			if err != nil {
				return nil, err
			}
			if err := u.global(mod, name); err != nil {
				return nil, err
			}
		case 0x93: // STACK_GLOBAL
			nv, err := u.pop()
			if err != nil {
				return nil, err
			}
			mv, err := u.pop()
			if err != nil {
				return nil, err
			}
			mod, ok1 := mv.(string)
			name, ok2 := nv.(string)
			if !ok1 || !ok2 {
				return nil, formatErr("STACK_GLOBAL of non-strings")
			}
			if err := u.global(mod, name); err != nil {
				return nil, err
			}
		case 't', 0x85, 0x86, 0x87: // TUPLE, TUPLE1..3
			var items []any
			if op == 't' {
				items, err = u.popMark()
			} else {
				n := int(op - 0x84)
				items = make([]any, n)
				for i := n - 1; i >= 0 && err == nil; i-- {
					items[i], err = u.pop()
				}
			}
			if err != nil {
				return nil, err
			}
			u.push(pTuple(items))
		case 'l': // LIST
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&pList{items: items})
		case 'd': // DICT
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			d := newDict()
			if err := setItems(d, items); err != nil {
				return nil, err
			}
			u.push(d)
		case 'a': // APPEND
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			l, ok := t.(*pList)
			if !ok {
				return nil, formatErr("APPEND to %T", t)
			}
			l.items = append(l.items, v)
		case 'e': // APPENDS
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			l, ok := t.(*pList)
			if !ok {
				return nil, formatErr("APPENDS to %T", t)
			}
			l.items = append(l.items, items...)
		case 's': // SETITEM
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			k, err := u.pop()
			if err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			d, ok := t.(*pDict)
			if !ok {
				return nil, formatErr("SETITEM on %T", t)
			}
			if err := d.set(k, v); err != nil {
				return nil, formatErr("%v", err)
			}
		case 'u': // SETITEMS
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			d, ok := t.(*pDict)
			if !ok {
				return nil, formatErr("SETITEMS on %T", t)
			}
			if err := setItems(d, items); err != nil {
				return nil, err
			}
		case '0': // POP
			if _, err := u.pop(); err != nil {
				return nil, err
			}
		case '1': // POP_MARK
			if _, err := u.popMark(); err != nil {
				return nil, err
			}
		case '2': // DUP
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 'Q': // BINPERSID
			pid, err := u.pop()
			if err != nil {
				return nil, err
			}
			s, err := u.persistent(pid)
			if err != nil {
				return nil, err
			}
			u.push(s)
		case 'R': // REDUCE
			args, err := u.pop()
			if err != nil {
				return nil, err
			}
			fn, err := u.pop()
			if err != nil {
				return nil, err
			}
			v, err := u.reduce(fn, args)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 'b': // BUILD
			state, err := u.pop()
			if err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			// Only the OrderedDict of a state dict carries state (its _metadata attribute), ignored.
			if _, ok := t.(*pDict); !ok {
				return nil, formatErr("BUILD on %T", t)
			}
			switch state.(type) {
			case nil, *pDict, pTuple:
			default:
				return nil, formatErr("BUILD with state %T", state)
			}
		default:
			return nil, formatErr("unsupported pickle opcode 0x%02x", op)
		}
	}
}

func setItems(d *pDict, items []any) error {
	if len(items)%2 != 0 {
		return formatErr("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return formatErr("%v", err)
		}
	}
	return nil
}

func (u *unpickler) global(mod, name string) error {
	if !allowedGlobal(mod, name) {
		return fmt.Errorf("global %s.%s is not allowed in a checkpoint: %w", mod, name, ErrDisallowedGlobal)
	}
	u.push(pGlobal{mod, name})
	return nil
}

// persistent resolves torch's storage references ('storage', storage_type, key, location, numel).
func (u *unpickler) persistent(pid any) (*pStorage, error) {
	t, ok := pid.(pTuple)
	if !ok || len(t) != 5 {
		return nil, formatErr("persistent id %T is not a 5-tuple ('storage', type, key, location, numel)", pid)
	}
	if tag, _ := t[0].(string); tag != "storage" {
		return nil, formatErr("persistent id tag %v", t[0])
	}
	g, ok := t[1].(pGlobal)
	if !ok || g.module != "torch" {
		return nil, formatErr("persistent id storage type %v", t[1])
	}
	st, ok := storageTypes[g.name]
	if !ok {
		return nil, formatErr("storage type torch.%s", g.name)
	}
	key, ok1 := t[2].(string)
	loc, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 || key == "" || strings.ContainsAny(key, "/\\\x00") || key == "." || key == ".." {
		return nil, formatErr("bad persistent id %v", t)
	}
	if s, ok := u.storages[key]; ok {
		if s.dtype != st.dtype || s.numel != numel {
			return nil, formatErr("storage %s used as %s[%d] and %s[%d]", key, s.dtype, s.numel, st.dtype, numel)
		}
		return s, nil
	}
	s := &pStorage{dtype: st.dtype, elemSize: st.size, key: key, location: loc, numel: numel}
	u.storages[key] = s
	return s, nil
}

// reduce applies one of the allowed callables without executing anything.
func (u *unpickler) reduce(fn, args any) (any, error) {
	g, ok := fn.(pGlobal)
	if !ok {
		return nil, formatErr("REDUCE on %T", fn)
	}
	a, ok := args.(pTuple)
	if !ok {
		return nil, formatErr("REDUCE %s.%s with arguments %T", g.module, g.name, args)
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(a) != 0 {
			return nil, formatErr("OrderedDict with %d arguments", len(a))
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2":
		// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
		if len(a) < 6 || len(a) > 7 {
			return nil, formatErr("_rebuild_tensor_v2 with %d arguments", len(a))
		}
		s, ok := a[0].(*pStorage)
		if !ok {
			return nil, formatErr("_rebuild_tensor_v2 storage %T", a[0])
		}
		off, ok := a[1].(int64)
		if !ok || off < 0 {
			return nil, formatErr("_rebuild_tensor_v2 storage offset %v", a[1])
		}
		size, err := intTuple(a[2])
		if err != nil {
			return nil, formatErr("_rebuild_tensor_v2 size: %v", err)
		}
		stride, err := intTuple(a[3])
		if err != nil {
			return nil, formatErr("_rebuild_tensor_v2 stride: %v", err)
		}
		if len(size) != len(stride) || len(size) > MaxRank {
			return nil, formatErr("_rebuild_tensor_v2 size %v with stride %v", size, stride)
		}
		return &pTensor{storage: s, offset: off, size: size, stride: stride}, nil
	case "torch._utils._rebuild_parameter":
		// (data, requires_grad, backward_hooks)
		if len(a) != 3 {
			return nil, formatErr("_rebuild_parameter with %d arguments", len(a))
		}
		t, ok := a[0].(*pTensor)
		if !ok {
			return nil, formatErr("_rebuild_parameter of %T", a[0])
		}
		return t, nil
	}
	return nil, fmt.Errorf("REDUCE target %s.%s is not allowed in a checkpoint: %w", g.module, g.name, ErrDisallowedGlobal)
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(pTuple)
	if !ok {
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("element %v is not a non-negative integer", x)
		}
		out[i] = n
	}
	return out, nil
}
