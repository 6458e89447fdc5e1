package image

func decodeWebP(data []byte, opts *Options) (*Image, error) { return nil, ErrUnsupported }
