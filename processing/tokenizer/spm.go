package tokenizer

import (
	"encoding/binary"
	"math"
)

// SentencePiece piece types (sentencepiece_model.proto ModelProto.SentencePiece.Type).
const (
	pieceNormal      = 1
	pieceUnknown     = 2
	pieceControl     = 3
	pieceUserDefined = 4
	pieceUnused      = 5
	pieceByte        = 6
)

// spmModel is the part of a SentencePiece ModelProto (spiece.model) that encoding and decoding
// use.
type spmModel struct {
	pieces []string
	scores []float32
	types  []int8

	modelType    int // trainer_spec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
	vocabSize    int
	byteFallback bool
	unkID        int
	bosID        int
	eosID        int
	padID        int
	unkSurface   string
	hasUnkSurf   bool
	treatWSSufx  bool

	normName          string
	charsMap          []byte
	addDummyPrefix    bool
	removeExtraSpaces bool
	escapeWhitespaces bool
}

type pbReader struct {
	b     []byte
	file  string
	field string
}

func (r *pbReader) varint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(r.b) == 0 {
			return 0, formatErr(r.file, r.field, "truncated varint")
		}
		c := r.b[0]
		r.b = r.b[1:]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, formatErr(r.file, r.field, "varint too long")
}

// next returns the next field number, wire type and, for length-delimited fields, the payload;
// for varint/fixed fields the value is in v.
func (r *pbReader) next() (field int, wire int, v uint64, payload []byte, err error) {
	key, err := r.varint()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	field, wire = int(key>>3), int(key&7)
	if field == 0 {
		return 0, 0, 0, nil, formatErr(r.file, r.field, "field number 0")
	}
	switch wire {
	case 0:
		v, err = r.varint()
	case 1:
		if len(r.b) < 8 {
			return 0, 0, 0, nil, formatErr(r.file, r.field, "truncated fixed64 (field %d)", field)
		}
		v = binary.LittleEndian.Uint64(r.b)
		r.b = r.b[8:]
	case 5:
		if len(r.b) < 4 {
			return 0, 0, 0, nil, formatErr(r.file, r.field, "truncated fixed32 (field %d)", field)
		}
		v = uint64(binary.LittleEndian.Uint32(r.b))
		r.b = r.b[4:]
	case 2:
		var n uint64
		n, err = r.varint()
		if err != nil {
			return
		}
		if n > uint64(len(r.b)) {
			return 0, 0, 0, nil, formatErr(r.file, r.field, "field %d: length %d exceeds the %d bytes left", field, n, len(r.b))
		}
		payload = r.b[:n]
		r.b = r.b[n:]
	default:
		return 0, 0, 0, nil, formatErr(r.file, r.field, "field %d: unsupported wire type %d", field, wire)
	}
	return
}

// parseSPMModel parses a serialized sentencepiece ModelProto.
func parseSPMModel(data []byte, file string) (*spmModel, error) {
	m := &spmModel{
		modelType: 1, unkID: 0, bosID: 1, eosID: 2, padID: -1,
		addDummyPrefix: true, removeExtraSpaces: true, escapeWhitespaces: true,
	}
	r := &pbReader{b: data, file: file, field: "ModelProto"}
	for len(r.b) > 0 {
		f, w, _, p, err := r.next()
		if err != nil {
			return nil, err
		}
		switch {
		case f == 1 && w == 2:
			if err := m.parsePiece(p, file, len(m.pieces)); err != nil {
				return nil, err
			}
		case f == 2 && w == 2:
			if err := m.parseTrainer(p, file); err != nil {
				return nil, err
			}
		case f == 3 && w == 2:
			if err := m.parseNormalizer(p, file); err != nil {
				return nil, err
			}
		}
	}
	if len(m.pieces) == 0 {
		return nil, formatErr(file, "ModelProto.pieces", "no pieces")
	}
	if m.unkID < 0 || m.unkID >= len(m.pieces) || m.types[m.unkID] != pieceUnknown {
		// sentencepiece requires exactly one UNKNOWN piece; find it
		found := -1
		for i, t := range m.types {
			if t == pieceUnknown {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, formatErr(file, "ModelProto.pieces", "no piece of type UNKNOWN")
		}
		m.unkID = found
	}
	return m, nil
}

func (m *spmModel) parsePiece(b []byte, file string, idx int) error {
	r := &pbReader{b: b, file: file, field: "ModelProto.pieces"}
	piece, score, typ := "", float32(0), int8(pieceNormal)
	for len(r.b) > 0 {
		f, w, v, p, err := r.next()
		if err != nil {
			return err
		}
		switch {
		case f == 1 && w == 2:
			piece = string(p)
		case f == 2 && w == 5:
			score = math.Float32frombits(uint32(v))
		case f == 3 && w == 0:
			if v < 1 || v > 6 {
				return formatErr(file, "ModelProto.pieces.type", "piece %d: unknown type %d", idx, v)
			}
			typ = int8(v)
		}
	}
	m.pieces = append(m.pieces, piece)
	m.scores = append(m.scores, score)
	m.types = append(m.types, typ)
	return nil
}

func (m *spmModel) parseTrainer(b []byte, file string) error {
	r := &pbReader{b: b, file: file, field: "ModelProto.trainer_spec"}
	for len(r.b) > 0 {
		f, w, v, p, err := r.next()
		if err != nil {
			return err
		}
		iv := int(int32(v))
		switch {
		case f == 3 && w == 0:
			m.modelType = iv
		case f == 4 && w == 0:
			m.vocabSize = iv
		case f == 24 && w == 0:
			m.treatWSSufx = v != 0
		case f == 35 && w == 0:
			m.byteFallback = v != 0
		case f == 40 && w == 0:
			m.unkID = iv
		case f == 41 && w == 0:
			m.bosID = iv
		case f == 42 && w == 0:
			m.eosID = iv
		case f == 43 && w == 0:
			m.padID = iv
		case f == 44 && w == 2:
			m.unkSurface, m.hasUnkSurf = string(p), true
		}
	}
	return nil
}

func (m *spmModel) parseNormalizer(b []byte, file string) error {
	r := &pbReader{b: b, file: file, field: "ModelProto.normalizer_spec"}
	for len(r.b) > 0 {
		f, w, v, p, err := r.next()
		if err != nil {
			return err
		}
		switch {
		case f == 1 && w == 2:
			m.normName = string(p)
		case f == 2 && w == 2:
			m.charsMap = p
		case f == 3 && w == 0:
			m.addDummyPrefix = v != 0
		case f == 4 && w == 0:
			m.removeExtraSpaces = v != 0
		case f == 5 && w == 0:
			m.escapeWhitespaces = v != 0
		}
	}
	return nil
}
