package image

import (
	"encoding/binary"
	"fmt"
)

// WebP as Pillow 9.4 decodes it (WebPAnimDecoder, RGBA output, convert("RGB") drops alpha):
// lossless VP8L is decoded here exactly (the format is lossless); lossy VP8 goes through vp8.go.

var errWebPShort = fmt.Errorf("%w: unexpected end of WebP data", ErrCorrupt)

func decodeWebP(data []byte, opts *Options) (*Image, error) {
	riffSize := int(binary.LittleEndian.Uint32(data[4:8]))
	end := len(data)
	if riffSize+8 < end && riffSize >= 4 {
		end = riffSize + 8
	}
	p := 12
	var vp8, vp8l, alph []byte
	hasAlpha := false
	canvasW, canvasH := -1, -1
	for p+8 <= end {
		id := string(data[p : p+4])
		n := int(binary.LittleEndian.Uint32(data[p+4 : p+8]))
		if n < 0 || p+8+n > end {
			return nil, fmt.Errorf("%w: WebP chunk %q", errCorrupt, id)
		}
		body := data[p+8 : p+8+n]
		switch id {
		case "VP8X":
			if n < 10 {
				return nil, fmt.Errorf("%w: VP8X chunk", errCorrupt)
			}
			hasAlpha = body[0]&0x10 != 0
			if body[0]&0x02 != 0 {
				return nil, fmt.Errorf("%w: animated WebP", ErrUnsupported)
			}
			canvasW = 1 + (int(body[4]) | int(body[5])<<8 | int(body[6])<<16)
			canvasH = 1 + (int(body[7]) | int(body[8])<<8 | int(body[9])<<16)
			if err := checkSize(canvasW, canvasH, opts); err != nil {
				return nil, err
			}
		case "ALPH":
			alph = body
		case "VP8 ":
			vp8 = body
		case "VP8L":
			vp8l = body
		}
		if vp8 != nil || vp8l != nil {
			break
		}
		p += 8 + n + n&1
	}
	var img *Image
	var err error
	switch {
	case vp8l != nil:
		img, err = decodeVP8L(vp8l, opts)
	case vp8 != nil:
		img, err = decodeVP8(vp8, opts)
		if err == nil {
			img.Mode = "RGB"
			if alph != nil || hasAlpha {
				img.Mode = "RGBA"
			}
		}
	default:
		return nil, fmt.Errorf("%w: WebP without image data", errCorrupt)
	}
	if err != nil {
		return nil, err
	}
	if canvasW >= 0 && (canvasW != img.Width || canvasH != img.Height) {
		return nil, fmt.Errorf("%w: WebP canvas %dx%d differs from the image %dx%d", errCorrupt, canvasW, canvasH, img.Width, img.Height)
	}
	return img, nil
}

// ---- VP8L (lossless) ----

type vp8lReader struct {
	data []byte
	pos  int
	bits uint64
	n    uint
	pad  uint // zero bytes loaded past the end of the data
}

func (r *vp8lReader) fill() {
	for r.n <= 56 {
		if r.pos < len(r.data) {
			r.bits |= uint64(r.data[r.pos]) << r.n
			r.pos++
		} else {
			r.pad++
		}
		r.n += 8
	}
}

func (r *vp8lReader) read(nb uint) uint32 {
	if nb == 0 {
		return 0
	}
	if r.n < nb {
		r.fill()
	}
	v := uint32(r.bits & (1<<nb - 1))
	r.bits >>= nb
	r.n -= nb
	return v
}

// over reports whether bits past the end of the data were consumed (truncated stream).
func (r *vp8lReader) over() bool { return r.pad*8 > r.n }

// huffCode is a canonical prefix code decoded as in DEFLATE/VP8L (codes packed LSB-first).
type huffCode struct {
	single int     // >= 0: the only symbol (zero-length code)
	count  [16]int // codes of each length
	syms   []int   // symbols sorted by code
	fast   []int32 // 8-bit lookup: (length << 16) | symbol, -1 when the code is longer
}

func newHuffCode(lengths []int) (*huffCode, error) {
	h := &huffCode{single: -1}
	nz := 0
	last := 0
	for s, l := range lengths {
		if l < 0 || l > 15 {
			return nil, fmt.Errorf("%w: WebP code length %d", errCorrupt, l)
		}
		if l > 0 {
			h.count[l]++
			nz++
			last = s
		}
	}
	if nz == 0 {
		return nil, fmt.Errorf("%w: WebP empty prefix code", errCorrupt)
	}
	if nz == 1 {
		h.single = last
		return h, nil
	}
	// check completeness (libwebp rejects incomplete or over-subscribed codes)
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= h.count[l]
		if left < 0 {
			return nil, fmt.Errorf("%w: WebP over-subscribed prefix code", errCorrupt)
		}
	}
	if left != 0 {
		return nil, fmt.Errorf("%w: WebP incomplete prefix code", errCorrupt)
	}
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.syms = make([]int, nz)
	for s, l := range lengths {
		if l > 0 {
			h.syms[offs[l]] = s
			offs[l]++
		}
	}
	// fast table: for every 8-bit window, walk the canonical decode
	h.fast = make([]int32, 256)
	for w := 0; w < 256; w++ {
		code, first, index := 0, 0, 0
		h.fast[w] = -1
		for l := 1; l <= 8; l++ {
			code |= (w >> uint(l-1)) & 1
			cnt := h.count[l]
			if code-first < cnt {
				h.fast[w] = int32(l<<16 | h.syms[index+code-first])
				break
			}
			index += cnt
			first += cnt
			first <<= 1
			code <<= 1
		}
	}
	return h, nil
}

func (h *huffCode) decode(r *vp8lReader) int {
	if h.single >= 0 {
		return h.single
	}
	if r.n < 16 {
		r.fill()
	}
	if f := h.fast[r.bits&0xff]; f >= 0 {
		l := uint(f >> 16)
		r.bits >>= l
		r.n -= l
		return int(f & 0xffff)
	}
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		code |= int(r.read(1))
		cnt := h.count[l]
		if code-first < cnt {
			return h.syms[index+code-first]
		}
		index += cnt
		first += cnt
		first <<= 1
		code <<= 1
	}
	return 0
}

var codeLengthOrder = [19]int{17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func readHuffCode(r *vp8lReader, alphabet int) (*huffCode, error) {
	lengths := make([]int, alphabet)
	if r.read(1) == 1 { // simple code
		n := int(r.read(1)) + 1
		first8 := r.read(1)
		s0 := int(r.read(1 + 7*uint(first8)))
		if s0 >= alphabet {
			return nil, fmt.Errorf("%w: WebP symbol %d", errCorrupt, s0)
		}
		lengths[s0] = 1
		if n == 2 {
			s1 := int(r.read(8))
			if s1 >= alphabet {
				return nil, fmt.Errorf("%w: WebP symbol %d", errCorrupt, s1)
			}
			lengths[s1] = 1
			if s1 == s0 {
				lengths[s0] = 1
				return &huffCode{single: s0}, nil
			}
		} else {
			return &huffCode{single: s0}, nil
		}
		return newHuffCode(lengths)
	}
	var clen [19]int
	nc := int(r.read(4)) + 4
	if nc > 19 {
		return nil, fmt.Errorf("%w: WebP code length count", errCorrupt)
	}
	for i := 0; i < nc; i++ {
		clen[codeLengthOrder[i]] = int(r.read(3))
	}
	lc, err := newHuffCode(clen[:])
	if err != nil {
		return nil, err
	}
	maxSym := alphabet
	if r.read(1) == 1 {
		nb := 2 + 2*uint(r.read(3))
		maxSym = 2 + int(r.read(nb))
		if maxSym > alphabet {
			return nil, fmt.Errorf("%w: WebP max symbol", errCorrupt)
		}
	}
	prev := 8
	for s := 0; s < alphabet; {
		if maxSym == 0 {
			break
		}
		maxSym--
		c := lc.decode(r)
		if c < 16 {
			lengths[s] = c
			s++
			if c != 0 {
				prev = c
			}
			continue
		}
		var rep, val int
		switch c {
		case 16:
			rep, val = 3+int(r.read(2)), prev
		case 17:
			rep = 3 + int(r.read(3))
		default:
			rep = 11 + int(r.read(7))
		}
		if s+rep > alphabet {
			return nil, fmt.Errorf("%w: WebP code lengths overflow", errCorrupt)
		}
		for ; rep > 0; rep-- {
			lengths[s] = val
			s++
		}
	}
	if r.over() {
		return nil, errWebPShort
	}
	return newHuffCode(lengths)
}

type htreeGroup [5]*huffCode

func vp8lPrefixValue(r *vp8lReader, sym int) int {
	if sym < 4 {
		return sym + 1
	}
	extra := uint(sym-2) >> 1
	offset := (2 + sym&1) << extra
	return offset + int(r.read(extra)) + 1
}

var distMap = [120][2]int8{
	{0, 1}, {1, 0}, {1, 1}, {-1, 1}, {0, 2}, {2, 0}, {1, 2}, {-1, 2},
	{2, 1}, {-2, 1}, {2, 2}, {-2, 2}, {0, 3}, {3, 0}, {1, 3}, {-1, 3},
	{3, 1}, {-3, 1}, {2, 3}, {-2, 3}, {3, 2}, {-3, 2}, {0, 4}, {4, 0},
	{1, 4}, {-1, 4}, {4, 1}, {-4, 1}, {3, 3}, {-3, 3}, {2, 4}, {-2, 4},
	{4, 2}, {-4, 2}, {0, 5}, {3, 4}, {-3, 4}, {4, 3}, {-4, 3}, {5, 0},
	{1, 5}, {-1, 5}, {5, 1}, {-5, 1}, {2, 5}, {-2, 5}, {5, 2}, {-5, 2},
	{4, 4}, {-4, 4}, {3, 5}, {-3, 5}, {5, 3}, {-5, 3}, {0, 6}, {6, 0},
	{1, 6}, {-1, 6}, {6, 1}, {-6, 1}, {2, 6}, {-2, 6}, {6, 2}, {-6, 2},
	{4, 5}, {-4, 5}, {5, 4}, {-5, 4}, {3, 6}, {-3, 6}, {6, 3}, {-6, 3},
	{0, 7}, {7, 0}, {1, 7}, {-1, 7}, {5, 5}, {-5, 5}, {7, 1}, {-7, 1},
	{4, 6}, {-4, 6}, {6, 4}, {-6, 4}, {2, 7}, {-2, 7}, {7, 2}, {-7, 2},
	{3, 7}, {-3, 7}, {7, 3}, {-7, 3}, {5, 6}, {-5, 6}, {6, 5}, {-6, 5},
	{8, 0}, {4, 7}, {-4, 7}, {7, 4}, {-7, 4}, {8, 1}, {8, 2}, {6, 6},
	{-6, 6}, {8, 3}, {5, 7}, {-5, 7}, {7, 5}, {-7, 5}, {8, 4}, {6, 7},
	{-6, 7}, {7, 6}, {-7, 6}, {8, 5}, {7, 7}, {-7, 7}, {8, 6}, {8, 7},
}

// decodeImageStream decodes one entropy-coded image of w x h ARGB pixels (VP8L spec 5).
func decodeImageStream(r *vp8lReader, w, h int, level0 bool) ([]uint32, error) {
	cacheBits := uint(0)
	if r.read(1) == 1 {
		cacheBits = uint(r.read(4))
		if cacheBits < 1 || cacheBits > 11 {
			return nil, fmt.Errorf("%w: WebP colour cache bits %d", errCorrupt, cacheBits)
		}
	}
	var meta []uint32
	metaBits := uint(0)
	metaW := 0
	ngroups := 1
	if level0 && r.read(1) == 1 {
		metaBits = uint(r.read(3)) + 2
		metaW = (w + 1<<metaBits - 1) >> metaBits
		metaH := (h + 1<<metaBits - 1) >> metaBits
		var err error
		meta, err = decodeImageStream(r, metaW, metaH, false)
		if err != nil {
			return nil, err
		}
		for i, v := range meta {
			g := int(v>>8) & 0xffff
			meta[i] = uint32(g)
			if g+1 > ngroups {
				ngroups = g + 1
			}
		}
	}
	if ngroups > 1<<16 {
		return nil, fmt.Errorf("%w: WebP prefix groups", errCorrupt)
	}
	cacheSize := 0
	if cacheBits > 0 {
		cacheSize = 1 << cacheBits
	}
	groups := make([]htreeGroup, ngroups)
	alphabets := [5]int{256 + 24 + cacheSize, 256, 256, 256, 40}
	for g := range groups {
		for i := 0; i < 5; i++ {
			c, err := readHuffCode(r, alphabets[i])
			if err != nil {
				return nil, err
			}
			groups[g][i] = c
		}
		if r.over() {
			return nil, errWebPShort
		}
	}
	var cache []uint32
	if cacheSize > 0 {
		cache = make([]uint32, cacheSize)
	}
	pix := make([]uint32, w*h)
	lastCached := 0
	updateCache := func(upto int) {
		if cache == nil {
			lastCached = upto
			return
		}
		for ; lastCached < upto; lastCached++ {
			v := pix[lastCached]
			cache[(0x1e35a7bd*v)>>(32-cacheBits)] = v
		}
	}
	total := w * h
	for i := 0; i < total; {
		x, y := i%w, i/w
		g := &groups[0]
		if meta != nil {
			g = &groups[meta[(y>>metaBits)*metaW+(x>>metaBits)]]
		}
		s := g[0].decode(r)
		switch {
		case s < 256:
			red := g[1].decode(r)
			blue := g[2].decode(r)
			alpha := g[3].decode(r)
			pix[i] = uint32(alpha)<<24 | uint32(red)<<16 | uint32(s)<<8 | uint32(blue)
			i++
		case s < 256+24:
			length := vp8lPrefixValue(r, s-256)
			ds := g[4].decode(r)
			dcode := vp8lPrefixValue(r, ds)
			var dist int
			if dcode > 120 {
				dist = dcode - 120
			} else {
				d := distMap[dcode-1]
				dist = int(d[0]) + int(d[1])*w
				if dist < 1 {
					dist = 1
				}
			}
			if dist > i || i+length > total {
				return nil, fmt.Errorf("%w: WebP backward reference out of range", errCorrupt)
			}
			for k := 0; k < length; k++ {
				pix[i+k] = pix[i+k-dist]
			}
			i += length
		default:
			ci := s - 280
			if ci >= cacheSize {
				return nil, fmt.Errorf("%w: WebP colour cache index", errCorrupt)
			}
			updateCache(i)
			pix[i] = cache[ci]
			i++
		}
		updateCache(i)
		if r.over() {
			return nil, errWebPShort
		}
	}
	return pix, nil
}

type vp8lTransform struct {
	kind  int
	bits  uint
	xsize int // image width when the transform was read (before it)
	data  []uint32
}

func decodeVP8L(data []byte, opts *Options) (*Image, error) {
	if len(data) < 5 || data[0] != 0x2f {
		return nil, fmt.Errorf("%w: VP8L signature", errCorrupt)
	}
	r := &vp8lReader{data: data[1:]}
	w := int(r.read(14)) + 1
	h := int(r.read(14)) + 1
	alpha := r.read(1)
	if v := r.read(3); v != 0 {
		return nil, fmt.Errorf("%w: VP8L version %d", errCorrupt, v)
	}
	if err := checkSize(w, h, opts); err != nil {
		return nil, err
	}
	xsize := w
	var transforms []vp8lTransform
	seen := 0
	for r.read(1) == 1 {
		kind := int(r.read(2))
		if seen&(1<<uint(kind)) != 0 {
			return nil, fmt.Errorf("%w: VP8L transform %d repeated", errCorrupt, kind)
		}
		seen |= 1 << uint(kind)
		t := vp8lTransform{kind: kind, xsize: xsize}
		switch kind {
		case 0, 1:
			t.bits = uint(r.read(3)) + 2
			bw := (xsize + 1<<t.bits - 1) >> t.bits
			bh := (h + 1<<t.bits - 1) >> t.bits
			var err error
			t.data, err = decodeImageStream(r, bw, bh, false)
			if err != nil {
				return nil, err
			}
		case 3:
			n := int(r.read(8)) + 1
			pal, err := decodeImageStream(r, n, 1, false)
			if err != nil {
				return nil, err
			}
			for i := 1; i < n; i++ {
				pal[i] = addPixels(pal[i], pal[i-1])
			}
			switch {
			case n <= 2:
				t.bits = 3
			case n <= 4:
				t.bits = 2
			case n <= 16:
				t.bits = 1
			}
			full := make([]uint32, 256)
			copy(full, pal)
			t.data = full
			xsize = (xsize + 1<<t.bits - 1) >> t.bits
		}
		transforms = append(transforms, t)
	}
	pix, err := decodeImageStream(r, xsize, h, true)
	if err != nil {
		return nil, err
	}
	for i := len(transforms) - 1; i >= 0; i-- {
		t := transforms[i]
		switch t.kind {
		case 0:
			inversePredictor(pix, t.xsize, h, t.bits, t.data)
		case 1:
			inverseColor(pix, t.xsize, h, t.bits, t.data)
		case 2:
			for j, v := range pix {
				g := (v >> 8) & 0xff
				pix[j] = v&0xff00ff00 | ((v>>16&0xff+g)&0xff)<<16 | (v&0xff+g)&0xff
			}
		case 3:
			pix = inverseIndex(pix, xsize, t.xsize, h, t.bits, t.data)
		}
		xsize = t.xsize
	}
	img := &Image{Width: w, Height: h, Pix: make([]uint8, w*h*3), Mode: "RGB"}
	if alpha != 0 {
		img.Mode = "RGBA"
	}
	for i, v := range pix[:w*h] {
		img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = uint8(v>>16), uint8(v>>8), uint8(v)
	}
	return img, nil
}

func addPixels(a, b uint32) uint32 {
	ag := (a & 0xff00ff00) + (b & 0xff00ff00)
	rb := (a & 0x00ff00ff) + (b & 0x00ff00ff)
	return ag&0xff00ff00 | rb&0x00ff00ff
}

func average2(a, b uint32) uint32 {
	return (((a ^ b) & 0xfefefefe) >> 1) + (a & b)
}

func clip255(v int) uint32 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint32(v)
}

func clampAddSubFull(a, b, c uint32) uint32 {
	var out uint32
	for s := uint(0); s < 32; s += 8 {
		out |= clip255(int(a>>s&0xff)+int(b>>s&0xff)-int(c>>s&0xff)) << s
	}
	return out
}

func clampAddSubHalf(a, b uint32) uint32 {
	var out uint32
	for s := uint(0); s < 32; s += 8 {
		x, y := int(a>>s&0xff), int(b>>s&0xff)
		out |= clip255(x+(x-y)/2) << s
	}
	return out
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func selectPred(l, t, tl uint32) uint32 {
	d := 0
	for s := uint(0); s < 32; s += 8 {
		a, b, c := int(t>>s&0xff), int(l>>s&0xff), int(tl>>s&0xff)
		d += absInt(b-c) - absInt(a-c)
	}
	if d <= 0 {
		return t
	}
	return l
}

func inversePredictor(pix []uint32, w, h int, bits uint, modes []uint32) {
	bw := (w + 1<<bits - 1) >> bits
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			var pred uint32
			switch {
			case y == 0 && x == 0:
				pred = 0xff000000
			case y == 0:
				pred = pix[i-1]
			case x == 0:
				pred = pix[i-w]
			default:
				mode := (modes[(y>>bits)*bw+(x>>bits)] >> 8) & 0xf
				L, T, TL, TR := pix[i-1], pix[i-w], pix[i-w-1], pix[i-w+1]
				switch mode {
				case 0:
					pred = 0xff000000
				case 1:
					pred = L
				case 2:
					pred = T
				case 3:
					pred = TR
				case 4:
					pred = TL
				case 5:
					pred = average2(average2(L, TR), T)
				case 6:
					pred = average2(L, TL)
				case 7:
					pred = average2(L, T)
				case 8:
					pred = average2(TL, T)
				case 9:
					pred = average2(T, TR)
				case 10:
					pred = average2(average2(L, TL), average2(T, TR))
				case 11:
					pred = selectPred(L, T, TL)
				case 12:
					pred = clampAddSubFull(L, T, TL)
				case 13:
					pred = clampAddSubHalf(average2(L, T), TL)
				default:
					pred = 0xff000000 // modes 14, 15 behave as 0 in libwebp
				}
			}
			pix[i] = addPixels(pix[i], pred)
		}
	}
}

func colorDelta(t, c int8) int { return (int(t) * int(c)) >> 5 }

func inverseColor(pix []uint32, w, h int, bits uint, elems []uint32) {
	bw := (w + 1<<bits - 1) >> bits
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			e := elems[(y>>bits)*bw+(x>>bits)]
			g2r, g2b, r2b := int8(e), int8(e>>8), int8(e>>16)
			i := y*w + x
			v := pix[i]
			green := int8(v >> 8)
			red := int(v>>16) & 0xff
			blue := int(v) & 0xff
			red = (red + colorDelta(g2r, green)) & 0xff
			blue = (blue + colorDelta(g2b, green) + colorDelta(r2b, int8(red))) & 0xff
			pix[i] = v&0xff00ff00 | uint32(red)<<16 | uint32(blue)
		}
	}
}

func inverseIndex(pix []uint32, packedW, w, h int, bits uint, pal []uint32) []uint32 {
	out := make([]uint32, w*h)
	per := 1 << bits
	bitsPer := uint(8 >> bits)
	mask := uint32(1)<<bitsPer - 1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := pix[y*packedW+x/per]
			idx := (p >> 8) & 0xff
			if bits > 0 {
				idx = (idx >> (uint(x%per) * bitsPer)) & mask
			}
			out[y*w+x] = pal[idx]
		}
	}
	return out
}
