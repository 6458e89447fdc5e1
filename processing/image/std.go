package image

import (
	stdimage "image"
	"image/color"
)

// FromStd converts an image already decoded by Go (image.Image) to an RGB Image, dropping alpha
// as Pillow's convert("RGB") does (non-premultiplied colour values are kept). Use it for pixels
// that do not come from a file; files should go through Decode*, which reproduces Pillow's
// decoders (Go's image/jpeg, for one, differs from libjpeg-turbo by several levels).
func FromStd(m stdimage.Image) *Image {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	img := &Image{Width: w, Height: h, Pix: make([]uint8, w*h*3), Mode: "RGB"}
	px := img.Pix
	switch mm := m.(type) {
	case *stdimage.NRGBA:
		img.Mode = "RGBA"
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride:]
			for x := 0; x < w; x++ {
				copy(px[3*(y*w+x):3*(y*w+x)+3], row[4*x:4*x+3])
			}
		}
	case *stdimage.Gray:
		img.Mode = "L"
		for y := 0; y < h; y++ {
			row := mm.Pix[y*mm.Stride:]
			for x := 0; x < w; x++ {
				v := row[x]
				px[3*(y*w+x)], px[3*(y*w+x)+1], px[3*(y*w+x)+2] = v, v, v
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				px[3*(y*w+x)], px[3*(y*w+x)+1], px[3*(y*w+x)+2] = c.R, c.G, c.B
			}
		}
	}
	return img
}

// ToStd returns the pixels as a Go *image.RGBA (opaque), e.g. to save them with image/png.
func (m *Image) ToStd() *stdimage.RGBA {
	out := stdimage.NewRGBA(stdimage.Rect(0, 0, m.Width, m.Height))
	for i := 0; i < m.Width*m.Height; i++ {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2], 255
	}
	return out
}
