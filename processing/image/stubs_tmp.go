package image

func decodePNG(data []byte, opts *Options) (*Image, error)  { return nil, ErrUnsupported }
func decodeGIF(data []byte, opts *Options) (*Image, error)  { return nil, ErrUnsupported }
func decodeBMP(data []byte, opts *Options) (*Image, error)  { return nil, ErrUnsupported }
func decodeTIFF(data []byte, opts *Options) (*Image, error) { return nil, ErrUnsupported }
func decodeWebP(data []byte, opts *Options) (*Image, error) { return nil, ErrUnsupported }
